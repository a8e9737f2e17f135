#!/usr/bin/env bash
# Vendor GraphiQL's release files into app/static/graphiql/vendor/ from the npm registry,
# so GET /graphql works with no network. Minified files and licences only.
#
#   scripts/vendor-graphiql.sh            # the versions below
#   GRAPHIQL_VERSION=3.9.0 scripts/vendor-graphiql.sh
#
# GraphiQL 3.x is the last line that ships UMD builds for React 18 with a matching explorer
# plugin UMD build; 5.x is ESM only and would need a bundler.
set -euo pipefail
cd "$(dirname "$0")/.."

GRAPHIQL_VERSION=${GRAPHIQL_VERSION:-3.9.0}
EXPLORER_PLUGIN_VERSION=${EXPLORER_PLUGIN_VERSION:-3.2.6}
# The explorer plugin's UMD build bundles graphiql-explorer: its licence comes along.
GRAPHIQL_EXPLORER_VERSION=${GRAPHIQL_EXPLORER_VERSION:-0.9.0}
REACT_VERSION=${REACT_VERSION:-18.3.1}

dest=app/static/graphiql/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

fetch() {  # fetch <package@version> <dir>: npm pack and unpack into $work/<dir>
  (cd "$work" && npm pack --silent "$1" >/dev/null)
  mkdir -p "$work/$2"
  tar -xzf "$work"/*.tgz -C "$work/$2" --strip-components=1
  rm "$work"/*.tgz
}

fetch "graphiql@$GRAPHIQL_VERSION" graphiql
fetch "@graphiql/plugin-explorer@$EXPLORER_PLUGIN_VERSION" plugin-explorer
fetch "graphiql-explorer@$GRAPHIQL_EXPLORER_VERSION" graphiql-explorer
fetch "react@$REACT_VERSION" react
fetch "react-dom@$REACT_VERSION" react-dom

rm -rf "$dest"
mkdir -p "$dest"
# The last line of the minified files names a source map that is not shipped: drop it.
strip_map() { sed '/^\/\/# sourceMappingURL=/d; s#/\*\# sourceMappingURL=[^*]*\*/##' "$1" >"$2"; }
strip_map "$work/graphiql/graphiql.min.js" "$dest/graphiql.min.js"
strip_map "$work/graphiql/graphiql.min.css" "$dest/graphiql.min.css"
strip_map "$work/plugin-explorer/dist/index.umd.js" "$dest/plugin-explorer.umd.js"
strip_map "$work/plugin-explorer/dist/style.css" "$dest/plugin-explorer.css"
strip_map "$work/react/umd/react.production.min.js" "$dest/react.production.min.js"
strip_map "$work/react-dom/umd/react-dom.production.min.js" "$dest/react-dom.production.min.js"

cp "$work/graphiql/LICENSE" "$dest/LICENSE.graphiql"
# @graphiql/plugin-explorer ships no LICENSE file; it is MIT (its package.json) and lives in
# the graphiql repository, whose LICENSE is the one above.
cp "$work/graphiql/LICENSE" "$dest/LICENSE.graphiql-plugin-explorer"
cp "$work/graphiql-explorer/LICENSE" "$dest/LICENSE.graphiql-explorer"
cp "$work/react/LICENSE" "$dest/LICENSE.react"
cp "$work/react-dom/LICENSE" "$dest/LICENSE.react-dom"

licence() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["license"])' "$work/$1/package.json"; }
{
  echo "# Vendored GraphiQL"
  echo
  echo "Written by \`scripts/vendor-graphiql.sh\` (\`make vendor-graphiql\`) from the npm registry;"
  echo "do not edit by hand. To update, change the versions at the top of the script and run it."
  echo
  echo "| package | version | licence | files |"
  echo "| --- | --- | --- | --- |"
  echo "| graphiql | $GRAPHIQL_VERSION | $(licence graphiql) | graphiql.min.js, graphiql.min.css |"
  echo "| @graphiql/plugin-explorer | $EXPLORER_PLUGIN_VERSION | $(licence plugin-explorer) | plugin-explorer.umd.js, plugin-explorer.css |"
  echo "| graphiql-explorer (inside the plugin) | $GRAPHIQL_EXPLORER_VERSION | $(licence graphiql-explorer) | |"
  echo "| react | $REACT_VERSION | $(licence react) | react.production.min.js |"
  echo "| react-dom | $REACT_VERSION | $(licence react-dom) | react-dom.production.min.js |"
  echo
  echo "graphiql.min.js also bundles graphql-js, CodeMirror 5, markdown-it and other MIT-licensed"
  echo "libraries (see graphiql's package.json at that version)."
  echo
  echo "SHA-256:"
  echo
  echo '```'
  (cd "$dest" && sha256sum ./*.js ./*.css | sed 's#\./##')
  echo '```'
} >"$dest/README.md"

du -sh "$dest"
