// Starts GraphiQL (vendor/, loaded before this file) on the endpoint that served the page.
// A file of its own because the page's Content-Security-Policy allows no inline script.
//
// After a sign-in answers with a token, the token goes into the Headers editor as
// {"Authorization": "Bearer ..."} (and into the headers of tabs opened later), so the next
// operation runs as the user who just signed in.
(function () {
  "use strict";

  var h = React.createElement;

  // GraphiQL's menus lock scrolling with a <style> element, which gets this nonce (the
  // page's CSP allows no other inline style). The name is what its bundle looks up.
  window.__webpack_nonce__ = document.currentScript && document.currentScript.nonce;

  var DOCUMENT = [
    "# Sign in: put your email and password in",
    "# Variables below, press the run button and",
    "# pick SignIn (or Ctrl-Enter with the cursor in it).",
    "# The token then goes into Headers, so Me and",
    "# everything else runs as you.",
    "mutation SignIn($email: String!, $password: String!, $otp: String) {",
    "  auth_login(email: $email, password: $password, otp: $otp) {",
    "    access_token",
    "    expires",
    "    refresh_token",
    "  }",
    "}",
    "",
    "query Me {",
    "  users_me {",
    "    id",
    "    email",
    "    role",
    "  }",
    "}",
    "",
  ].join("\n");
  var VARIABLES = JSON.stringify({ email: "", password: "" }, null, 2);

  // Where each sign-in operation of both schemas puts the token it issues.
  var TOKEN_FIELDS = [
    ["auth_login", "access_token"],
    ["auth_refresh", "access_token"],
    ["signinUser", "token"],
  ];

  function issuedToken(result) {
    var data = result && typeof result === "object" ? result.data : null;
    if (!data || typeof data !== "object") return null;
    for (var i = 0; i < TOKEN_FIELDS.length; i++) {
      var payload = data[TOKEN_FIELDS[i][0]];
      var token = payload && payload[TOKEN_FIELDS[i][1]];
      if (typeof token === "string" && token) return token;
    }
    return null;
  }

  // The headers editor's text with Authorization replaced by the bearer token; the other
  // headers stay. Text that is not a JSON object is replaced (it could not be sent anyway).
  function withBearer(text, token) {
    var headers = {};
    try {
      var parsed = JSON.parse(text || "{}");
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) headers = parsed;
    } catch (ignored) {
      // not JSON: start afresh
    }
    Object.keys(headers).forEach(function (name) {
      if (name.toLowerCase() === "authorization") delete headers[name];
    });
    headers.Authorization = "Bearer " + token;
    return JSON.stringify(headers, null, 2);
  }

  var listeners = [];
  function listen(fn) {
    listeners.push(fn);
    return function () {
      var at = listeners.indexOf(fn);
      if (at >= 0) listeners.splice(at, 1);
    };
  }

  // GraphiQL's own fetcher (headers from the editor, JSON body), watched for tokens.
  // Incremental delivery off: this server answers plain JSON, and a promise is what we
  // can look into.
  var base = GraphiQL.createFetcher({ url: window.location.pathname, enableIncrementalDelivery: false });
  function fetcher(params, options) {
    return Promise.resolve(base(params, options)).then(function (result) {
      var token = issuedToken(result);
      if (token) {
        listeners.slice().forEach(function (fn) {
          fn(token);
        });
      }
      return result;
    });
  }

  // Rendered inside GraphiQL (in its toolbar, showing nothing) for the editor context.
  function Helpers() {
    var context = GraphiQL.React.useEditorContext({ nonNull: true });
    var headerEditor = context.headerEditor;
    var variableEditor = context.variableEditor;
    var seeded = React.useRef(false);

    React.useEffect(
      function () {
        if (!variableEditor || seeded.current) return;
        seeded.current = true;
        // GraphiQL 3 opens the first of `defaultTabs` without its variables; the tab
        // state has them.
        var tab = context.tabs[context.activeTabIndex];
        if (tab && tab.variables && !variableEditor.getValue()) variableEditor.setValue(tab.variables);
      },
      [variableEditor],
    );

    React.useEffect(
      function () {
        if (!headerEditor) return undefined;
        return listen(function (token) {
          // setValue goes through the editor's change handler: the tab keeps the value.
          headerEditor.setValue(withBearer(headerEditor.getValue(), token));
        });
      },
      [headerEditor],
    );
    return null;
  }

  // GraphiQL keeps tabs, variables and history in storage: sessionStorage here, so a
  // password typed into Variables goes when the browser tab does (not localStorage's
  // forever). Headers, which carry tokens, are never stored.
  var storage;
  try {
    storage = window.sessionStorage;
  } catch (ignored) {
    storage = undefined; // no storage allowed: GraphiQL's own default
  }

  var plugins = [GraphiQLPluginExplorer.explorerPlugin()];
  var toolbar = { additionalContent: h(Helpers) };
  var defaultTabs = [{ query: DOCUMENT, variables: VARIABLES }];

  function App() {
    var state = React.useState(undefined);
    var newTabHeaders = state[0];
    var setNewTabHeaders = state[1];
    React.useEffect(function () {
      return listen(function (token) {
        setNewTabHeaders(withBearer("", token));
      });
    }, []);
    return h(GraphiQL, {
      fetcher: fetcher,
      plugins: plugins,
      toolbar: toolbar,
      defaultTabs: defaultTabs,
      // For tabs opened later (rather than GraphiQL's welcome text).
      defaultQuery: "{\n  users_me {\n    email\n  }\n}\n",
      defaultEditorToolsVisibility: "variables",
      defaultHeaders: newTabHeaders,
      storage: storage,
      shouldPersistHeaders: false,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(h(App));
})();
