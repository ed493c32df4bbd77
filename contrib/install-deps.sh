#!/bin/sh
# Installs what mqttd needs to build and to run its tests.
#
# On Debian and Ubuntu it runs apt-get (through sudo when not root). On
# other systems it prints the package names to install by hand.
#   contrib/install-deps.sh            build and test dependencies
#   contrib/install-deps.sh --build    build dependencies only
set -eu

BUILD_DEBS="build-essential autoconf automake pkg-config libevent-dev
libsqlite3-dev libinih-dev libcmocka-dev libssl-dev libedit-dev sqlite3"
TEST_DEBS="mosquitto mosquitto-clients python3 python3-paho-mqtt valgrind
clang libclang-rt-dev"

only_build=no
[ "${1:-}" = "--build" ] && only_build=yes

if command -v apt-get >/dev/null 2>&1; then
	debs=$BUILD_DEBS
	[ $only_build = no ] && debs="$debs $TEST_DEBS"
	sudo=
	[ "$(id -u)" -ne 0 ] && sudo=sudo
	export DEBIAN_FRONTEND=noninteractive
	# Install only what is missing, so a second run is quick and quiet.
	missing=
	for p in $debs; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
		    grep -q "install ok installed" || missing="$missing $p"
	done
	if [ -n "$missing" ]; then
		echo "install-deps: installing$missing"
		$sudo apt-get update -qq
		# shellcheck disable=SC2086
		$sudo apt-get install -y -qq --no-install-recommends $missing
	fi
	exit 0
fi

cat <<'MSG'
install-deps: no apt-get here; install these packages with your system's tool:
  dnf:  gcc make autoconf automake pkgconf libevent-devel sqlite-devel inih-devel
        libcmocka-devel openssl-devel libedit-devel mosquitto python3-paho-mqtt
  apk:  build-base autoconf automake pkgconf libevent-dev sqlite-dev inih-dev
        cmocka-dev openssl-dev libedit-dev mosquitto mosquitto-clients py3-paho-mqtt
  brew: autoconf automake pkg-config libevent sqlite inih cmocka openssl libedit
        mosquitto
  pkg:  autoconf automake pkgconf libevent sqlite3 inih cmocka openssl libedit
        mosquitto py311-paho-mqtt
MSG
exit 1
