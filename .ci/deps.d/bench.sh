#!/usr/bin/env bash
# bench area: the real `adb` binary (adb target; no device is needed to install it) and
# openssh-server (tests/bench start their own sshd on 127.0.0.1 as a stand-in "board").
set -euo pipefail
need=()
command -v adb >/dev/null 2>&1 || need+=(adb)
{ command -v sshd >/dev/null 2>&1 || [ -x /usr/sbin/sshd ]; } || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
