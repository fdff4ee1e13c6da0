# deps.sh - sourced by install.sh and test.sh: install missing Debian packages.
# Usage: need_packages pkg ...   (runs apt-get only when something is missing)
need_packages() {
    missing=""
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || missing="$missing $p"
    done
    [ -z "$missing" ] && return 0
    echo "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || true
    # --no-install-recommends: never pull in another MTA behind our back.
    apt-get install -y -qq --no-install-recommends $missing
}

BUILD_PACKAGES="build-essential cmake pkg-config libssl-dev libsasl2-dev libdb5.3-dev
  liblmdb-dev libpcre2-dev libsasl2-modules sasl2-bin openssl"
# bsd-mailx needs a mail-transport-agent: tools/mta-package.sh registers Hikyaku
# as one first (need_test_packages), so apt does not pull in exim4.
TEST_PACKAGES="bsd-mailx libcmocka-dev python3-pytest swaks dnsmasq-base db5.3-util lmdb-utils
  clang libclang-rt-14-dev procps pflogsumm testssl.sh bsdextrautils
  opendkim opendkim-tools python3-dkim"

# Test packages, after registering Hikyaku as the MTA so bsd-mailx pulls in no exim4.
need_test_packages() {
    sh tools/mta-package.sh || true
    need_packages $BUILD_PACKAGES $TEST_PACKAGES
}
