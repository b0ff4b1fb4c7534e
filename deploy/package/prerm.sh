# Shared by the .deb prerm and the .rpm %preun: stop and disable the node
# when the package is removed (not on upgrade).
set -e
if [ -d /run/systemd/system ]; then
  systemctl stop idnode.service >/dev/null 2>&1 || true
  systemctl disable idnode.service >/dev/null 2>&1 || true
fi
