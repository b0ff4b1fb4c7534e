# Shared by the .deb postinst and the .rpm %post (scripts/package puts it in
# both): the system user, the state directory, the config's group, systemd.
# $1: "configure" (deb) or the rpm install count; IDNODE_UPGRADE=1 when an
# older version was installed before.
set -e
if ! getent group idnode >/dev/null; then
  groupadd --system idnode
fi
if ! getent passwd idnode >/dev/null; then
  useradd --system --gid idnode --home-dir /var/lib/idnode --no-create-home \
    --shell /usr/sbin/nologin --comment "idnode identifier resolution node" idnode
fi
# The store, server key and admin secret live here: the daemon's user only,
# group idnode may read (backups, monitoring), nobody else.
install -d -o idnode -g idnode -m 0750 /var/lib/idnode
# No secrets in the config (only paths), but keep it to root and the daemon.
chown root:idnode /etc/idnode/idnode.toml
chmod 0640 /etc/idnode/idnode.toml
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  if [ "${IDNODE_UPGRADE:-0}" = 1 ]; then
    # An upgrade restarts a running node on the new binary; a stopped one stays stopped.
    systemctl try-restart idnode.service >/dev/null 2>&1 || true
  fi
fi
