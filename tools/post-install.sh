#!/bin/sh
# post-install.sh PREFIX - links made at install time, only where nothing stands.
# Called by "cmake --install"; honours DESTDIR. Never overwrites another MTA's files.
prefix="$1"
root="${DESTDIR:-}"
mkdir -p "$root$prefix/bin"
for l in mailq newaliases; do
    [ -e "$root$prefix/bin/$l" ] || [ -L "$root$prefix/bin/$l" ] || ln -s ../sbin/sendmail "$root$prefix/bin/$l"
done
exit 0
