#!/usr/bin/env bash
# Android demo (issue 18): the Kotlin compile check and JVM tests of android_demo/ need Debian's
# kotlin compiler (1.3.31), a JDK (javac for the stand-in classes) and Android's org.json
# (libandroid-json-java: the AOSP implementation the app gets on a phone).
# Idempotent: installs only what is missing. Gradle is not needed (the wrapper is committed).
set -euo pipefail
need=()
command -v kotlinc >/dev/null 2>&1 || need+=(kotlin)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
[ -f /usr/share/java/com.android.json.jar ] || need+=(libandroid-json-java)
[ ${#need[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# other areas' scripts may hold the apt lock: wait for it rather than fail
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
