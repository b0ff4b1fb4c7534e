# Shared by the .deb postrm and the .rpm %postun (on removal). The data
# directory /var/lib/idnode and the user idnode are kept, even on purge:
# they hold the node's identifiers and keys. docs/operations.md says how
# to remove them by hand.
set -e
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
if [ -d /var/lib/idnode ]; then
  echo "idnode: kept /var/lib/idnode (store, keys) and the user idnode; remove them by hand if no longer needed" >&2
fi
