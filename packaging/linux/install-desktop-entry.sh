#!/bin/sh
# Put pairdesk on this user's desktop: menu entry, icons, AppStream data and a
# `pairdesk` command, pointing at the unpacked bundle this script sits in.
#   ./install-desktop-entry.sh            for this user (~/.local)
#   sudo ./install-desktop-entry.sh --system   for everyone (/usr/local)
# Run it again after moving the bundle; --uninstall removes what it added.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
app_id=io.pairdesk.Pairdesk
if [ "${1:-}" = "--system" ]; then
    data=/usr/local/share; bin=/usr/local/bin; shift
else
    data=${XDG_DATA_HOME:-$HOME/.local/share}; bin=$HOME/.local/bin
fi
if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$data/applications/$app_id.desktop" "$data/metainfo/$app_id.metainfo.xml" \
          "$data/icons/hicolor/scalable/apps/$app_id.svg" "$bin/pairdesk"
    for png in "$data"/icons/hicolor/*/apps/$app_id.png; do rm -f "$png"; done
    echo "pairdesk: desktop entry removed"
    exit 0
fi
test -x "$here/pairdesk" || { echo "pairdesk: run this script from the unpacked bundle" >&2; exit 1; }
mkdir -p "$data/applications" "$data/metainfo" "$bin"
sed "s|^Exec=pairdesk |Exec=\"$here/pairdesk\" |" "$here/share/applications/$app_id.desktop" \
    > "$data/applications/$app_id.desktop"
cp "$here/share/metainfo/$app_id.metainfo.xml" "$data/metainfo/"
for dir in "$here"/share/icons/hicolor/*/apps; do
    size=$(basename "$(dirname "$dir")")
    mkdir -p "$data/icons/hicolor/$size/apps"
    cp "$dir"/* "$data/icons/hicolor/$size/apps/"
done
ln -sf "$here/pairdesk" "$bin/pairdesk"
command -v update-desktop-database >/dev/null && update-desktop-database -q "$data/applications" || true
command -v gtk-update-icon-cache >/dev/null && gtk-update-icon-cache -q -t "$data/icons/hicolor" || true
echo "pairdesk: menu entry installed in $data/applications; command: $bin/pairdesk"
