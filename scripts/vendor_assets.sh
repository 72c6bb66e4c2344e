#!/usr/bin/env bash
# Copy the front-end libraries the pages use from npm packages into static/vendor/.
# The copies are committed, so running the app needs no npm and no network; run this script
# only to add or upgrade a library (change the version in package.json first).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp package.json "$work/"
(cd "$work" && npm install --ignore-scripts --no-audit --no-fund --silent)
modules="$work/node_modules"

rm -rf static/vendor
mkdir -p static/vendor/pico static/vendor/swagger-ui static/vendor/chartjs static/vendor/leaflet

cp "$modules/@picocss/pico/css/pico.min.css" "$modules/@picocss/pico/LICENSE.md" static/vendor/pico/
for file in swagger-ui.css swagger-ui-bundle.js swagger-ui-standalone-preset.js favicon-32x32.png LICENSE; do
  cp "$modules/swagger-ui-dist/$file" static/vendor/swagger-ui/
done
# Charts (Chart.js, its UMD bundle: one file, no build step) and maps (Leaflet with its marker images).
cp "$modules/chart.js/dist/chart.umd.min.js" "$modules/chart.js/LICENSE.md" static/vendor/chartjs/
cp "$modules/leaflet/dist/leaflet.js" "$modules/leaflet/dist/leaflet.css" "$modules/leaflet/LICENSE" static/vendor/leaflet/
cp -r "$modules/leaflet/dist/images" static/vendor/leaflet/
# Source maps are referenced by the bundles but are not shipped; drop the references so the
# browser does not ask for files that are not there.
sed -i '/^\/\/# sourceMappingURL=/d' static/vendor/swagger-ui/*.js static/vendor/chartjs/*.js static/vendor/leaflet/*.js
sed -i 's#/\*\# sourceMappingURL=[^*]*\*/##' static/vendor/swagger-ui/swagger-ui.css

node -e '
  const fs = require("fs");
  const lock = JSON.parse(fs.readFileSync(process.argv[1] + "/package-lock.json"));
  const lines = Object.entries(lock.packages).filter(([k]) => k).map(([k, v]) => `${k.replace("node_modules/", "")} ${v.version}`);
  fs.writeFileSync("static/vendor/VERSIONS.txt", lines.join("\n") + "\n");
' "$work"
echo "Vendored into static/vendor:"; cat static/vendor/VERSIONS.txt
