#!/bin/sh
# Refresh the README's console screenshots from the real engine on the sandbox.
# Everything runs in a scratch folder (HOME, data and sessions), never the user's.
# Usage: sh scripts/readme_screenshots.sh [OUT_DIR]   (default docs/screenshots)
set -eu
OUT=${1:-docs/screenshots}
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
export HOME="$SCRATCH" QT_QPA_PLATFORM=offscreen
PD=".venv/bin/pairdesk"
S="--data-dir $SCRATCH/data --sessions-dir $SCRATCH/sessions"
# The engine needs 15-30 s to start its instances on a busy machine: shoot late.
$PD gui --demo 3 --view wall $S --screenshot "$OUT/qr.png" --after 30
$PD gui --demo 3 --view sessions $S --screenshot "$OUT/grid.png" --after 30
$PD gui --demo 3 --view instances $S --screenshot "$OUT/instances.png" --after 30
$PD gui --demo 3 --view diagnose --tab events $S --screenshot "$OUT/events.png" --after 30
$PD gui --demo 3 --view diagnose --tab doctor $S --screenshot "$OUT/doctor.png" --after 30
# A failure that stops work: the database is unreachable (nothing listens on port 1).
$PD gui --view wall $S --database-url postgresql://pairdesk@127.0.0.1:1/pairdesk \
    --screenshot "$OUT/banner-database.png" --after 8
# Another: no usable Chromium, so no instance can start.
$PD gui --view instances $S --chromium /nonexistent/chromium \
    --screenshot "$OUT/banner-chromium.png" --after 25
