"""The bundle in the user's hands: sample windows for the demo apps, the Android app's assets and
static check, and the static server of the browser demo (web_demo/)."""
