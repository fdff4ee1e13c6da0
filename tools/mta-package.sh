#!/bin/sh
# mta-package.sh - register Hikyaku with dpkg as the system's mail-transport-agent.
#
# Debian packages that need an MTA (bsd-mailx, mailutils, cron, ...) depend on
# "default-mta | mail-transport-agent"; without a package that provides it, apt
# pulls in exim4. This builds and installs an empty package "hikyaku-mta" that
# provides mail-transport-agent, so those packages install cleanly next to
# Hikyaku. It installs no files. Idempotent.
set -eu
if dpkg-query -W -f='${Status}' hikyaku-mta 2>/dev/null | grep -q "install ok installed"; then
    exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/pkg/DEBIAN"
cat > "$work/pkg/DEBIAN/control" <<CTRL
Package: hikyaku-mta
Version: 0.1.0
Architecture: all
Maintainer: Hikyaku developers <postmaster@localhost>
Provides: mail-transport-agent
Conflicts: mail-transport-agent
Replaces: mail-transport-agent
Section: mail
Priority: optional
Description: marks Hikyaku (installed from source) as the mail transport agent
 An empty package so that packages depending on mail-transport-agent do not
 pull in another MTA. Hikyaku itself is installed by tools/install.sh.
CTRL
dpkg-deb --build "$work/pkg" "$work/hikyaku-mta.deb" >/dev/null
dpkg -i "$work/hikyaku-mta.deb" >/dev/null
