#!/bin/sh
# install.sh - the quick start's first command (run as root on Debian 12):
# install what is missing, build, install under /usr/local, create the
# postfix user and postdrop group, write a default main.cf and master.cf
# into /etc/postfix when absent, and start the mail system.
# Safe to run again: nothing that exists is overwritten.
set -eu
cd "$(dirname "$0")/.."
. tools/deps.sh
need_packages $BUILD_PACKAGES

prefix="${PREFIX:-/usr/local}"
config_dir="${CONFIG_DIR:-/etc/postfix}"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null
cmake --build build -j"$(nproc)"
cmake --install build >/dev/null

# The usual system paths, only where nothing stands (never replace another MTA).
[ -e /usr/sbin/sendmail ] || [ -L /usr/sbin/sendmail ] || ln -s "$prefix/sbin/sendmail" /usr/sbin/sendmail
for l in mailq newaliases; do
    [ -e /usr/bin/$l ] || [ -L /usr/bin/$l ] || ln -s "$prefix/sbin/sendmail" /usr/bin/$l
done
# The commands also under /usr/sbin, where the how-to articles call them.
for c in postfix postconf postmap postalias postsuper postqueue postcat postdrop postlog; do
    [ -e /usr/sbin/$c ] || [ -L /usr/sbin/$c ] || ln -s "$prefix/sbin/$c" /usr/sbin/$c
done
# "/etc/init.d/postfix start" and "systemctl start postfix", only where nothing stands.
if [ ! -e /etc/init.d/postfix ]; then
    sed "s|@SBIN@|$prefix/sbin|" tools/postfix.init > /etc/init.d/postfix
    chmod 755 /etc/init.d/postfix
fi
if [ -d /etc/rc.d/init.d ] && [ ! -e /etc/rc.d/init.d/postfix ]; then
    ln -s /etc/init.d/postfix /etc/rc.d/init.d/postfix
fi
if [ -d /etc/systemd/system ] && [ ! -e /etc/systemd/system/postfix.service ] \
        && [ ! -e /lib/systemd/system/postfix.service ]; then
    sed "s|@SBIN@|$prefix/sbin|" tools/postfix.service > /etc/systemd/system/postfix.service
    [ -d /run/systemd/system ] && systemctl daemon-reload 2>/dev/null || true
fi
# "chkconfig postfix on" as the articles type it: Debian has no chkconfig.
command -v chkconfig >/dev/null 2>&1 || install -m 755 tools/chkconfig "$prefix/sbin/chkconfig"
# Tell dpkg an MTA is present, so mail clients do not pull in exim4.
sh tools/mta-package.sh || echo "note: another MTA package is registered with dpkg; leaving it"

getent group postdrop >/dev/null || groupadd --system postdrop
getent passwd postfix >/dev/null || useradd --system --home-dir /var/spool/postfix \
    --no-create-home --shell /usr/sbin/nologin --user-group postfix

mkdir -p "$config_dir"
for f in main.cf master.cf; do
    [ -e "$config_dir/$f" ] || install -m 644 "conf/$f" "$config_dir/$f"
done
[ -e /etc/aliases ] || printf 'postmaster: root\n' > /etc/aliases

"$prefix/sbin/postconf" -c "$config_dir" -n
if [ -x "$prefix/libexec/postfix/master" ]; then
    "$prefix/sbin/postfix" -c "$config_dir" check
    "$prefix/sbin/newaliases" -C "$config_dir" 2>/dev/null || "$prefix/sbin/postalias" -c "$config_dir" hash:/etc/aliases
    "$prefix/sbin/postfix" -c "$config_dir" status >/dev/null 2>&1 \
        || "$prefix/sbin/postfix" -c "$config_dir" start
    "$prefix/sbin/postfix" -c "$config_dir" status
else
    "$prefix/sbin/postfix" -c "$config_dir" check
fi
