// The browser's half of passkeys, for /auth/pages/passkeys and /auth/pages/passkey-login:
// options come from our GraphQL endpoint as JSON (base64url for binary values), go to
// navigator.credentials.create() / .get(), and the credential goes back as JSON. Requests
// are JSON with the page's own cookies, which is how the session cookie counts on /graphql.
// Nothing here builds HTML from strings: names and messages are set as text.
(function () {
  "use strict";

  // --- base64url and the JSON forms of WebAuthn values ----------------------------------

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    base64 += "===".slice((base64.length + 3) % 4);
    var binary = atob(base64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var binary = "";
    for (var i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function descriptors(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: toBytes(c.id) });
    });
  }

  function creationOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON) {
      return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: descriptors(json.excludeCredentials),
    });
  }

  function requestOptions(json) {
    if (window.PublicKeyCredential && PublicKeyCredential.parseRequestOptionsFromJSON) {
      return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    }
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge),
      allowCredentials: descriptors(json.allowCredentials),
    });
  }

  function credentialJSON(credential) {
    var response = credential.response;
    var json = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults ? credential.getClientExtensionResults() : {},
      response: { clientDataJSON: toText(response.clientDataJSON) },
    };
    if (response.attestationObject) {
      json.response.attestationObject = toText(response.attestationObject);
      json.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      json.response.authenticatorData = toText(response.authenticatorData);
      json.response.signature = toText(response.signature);
      json.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return json;
  }

  // --- talking to /graphql --------------------------------------------------------------

  function Failure(code, message) {
    this.code = code;
    this.message = message;
  }

  async function graphql(url, query, variables) {
    var answer;
    try {
      var response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query: query, variables: variables || {} }),
      });
      answer = await response.json();
    } catch (error) {
      throw new Failure("SERVICE_UNAVAILABLE", "The server could not be reached.");
    }
    if (answer.errors && answer.errors.length) {
      var first = answer.errors[0];
      throw new Failure((first.extensions && first.extensions.code) || "INTERNAL_SERVER_ERROR", first.message);
    }
    return answer.data;
  }

  function show(element, text) {
    element.textContent = text;
    element.hidden = !text;
  }

  function explain(problem, error) {
    if (error instanceof Failure) {
      show(problem, error.message + " (" + error.code + ")");
    } else if (error && error.name === "NotAllowedError") {
      show(problem, "The passkey request was cancelled or timed out.");
    } else if (error && error.name === "InvalidStateError") {
      show(problem, "This device already holds a passkey for your account.");
    } else if (error && error.name === "SecurityError") {
      show(problem, "Passkeys need this page to be opened at the server's own address (PUBLIC_URL, a host name).");
    } else {
      show(problem, "Passkeys did not work here: " + ((error && error.message) || error));
    }
  }

  function supported(problem) {
    if (window.PublicKeyCredential && navigator.credentials) return true;
    show(problem, "This browser does not support passkeys.");
    return false;
  }

  // A passkey ceremony behind a form's submit: one at a time (the button waits for it), and
  // its failure explained (`failed` may act on it first).
  function onCeremony(form, problem, run, failed) {
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      show(problem, "");
      if (!supported(problem)) return;
      var button = form.querySelector("button");
      button.disabled = true;
      try {
        await run();
      } catch (error) {
        if (failed) failed(error);
        explain(problem, error);
      } finally {
        button.disabled = false;
      }
    });
  }

  // --- /auth/pages/passkey-login --------------------------------------------------------

  var LOGIN_OPTIONS = "mutation($email: String) { auth_passkey_login_options(email: $email) }";
  var LOGIN = "mutation($credential: JSON!) { auth_passkey_login(credential: $credential, mode: session) { expires } }";

  function loginPage(form) {
    var problem = document.getElementById("problem");
    onCeremony(form, problem, async function () {
      var email = form.elements.email.value.trim();
      var data = await graphql(form.dataset.graphql, LOGIN_OPTIONS, { email: email || null });
      var options = requestOptions(data.auth_passkey_login_options);
      var credential = await navigator.credentials.get({ publicKey: options });
      await graphql(form.dataset.graphql, LOGIN, { credential: credentialJSON(credential) });
      if (form.dataset.redirect) {
        window.location.assign(form.dataset.redirect);
        return;
      }
      form.hidden = true;
      document.getElementById("done").hidden = false;
    });
  }

  // --- /auth/pages/passkeys -------------------------------------------------------------

  var LIST = "{ users_me_passkeys { id name created_at last_used_at } }";
  var REGISTER_OPTIONS =
    "mutation($password: String) { users_me_passkey_register_options(password: $password) }";
  var REGISTER =
    "mutation($credential: JSON!, $name: String) { users_me_passkey_register(credential: $credential, name: $name) { id } }";
  var DELETE = "mutation($id: ID!) { users_me_passkey_delete(id: $id) }";

  function when(value) {
    return value ? new Date(value).toLocaleString() : "never";
  }

  function managePage(root) {
    var url = root.dataset.graphql;
    var status = document.getElementById("status");
    var problem = document.getElementById("problem");
    var list = document.getElementById("list");
    var form = document.getElementById("add");
    var confirm = document.getElementById("confirm");
    // Coming back from signing in lands here again.
    var login = root.dataset.login + "?redirect=" + encodeURIComponent(window.location.href.split("#")[0]);
    document.getElementById("sign-in").href = login;
    document.getElementById("sign-in-again").href = login;

    async function refresh() {
      var data = await graphql(url, LIST);
      list.replaceChildren();
      data.users_me_passkeys.forEach(function (passkey) {
        var item = document.createElement("li");
        var name = document.createElement("strong");
        name.textContent = passkey.name;
        var detail = document.createElement("span");
        detail.className = "hint";
        detail.textContent =
          " added " + when(passkey.created_at) + ", last used " + when(passkey.last_used_at) + " ";
        var remove = document.createElement("button");
        remove.type = "button";
        remove.textContent = "Remove";
        remove.setAttribute("aria-label", "Remove " + passkey.name);
        remove.addEventListener("click", async function () {
          show(problem, "");
          try {
            await graphql(url, DELETE, { id: passkey.id });
            await refresh();
          } catch (error) {
            explain(problem, error);
          }
        });
        item.append(name, detail, remove);
        list.append(item);
      });
      document.getElementById("empty").hidden = data.users_me_passkeys.length > 0;
    }

    onCeremony(form, problem, async function () {
      var password = form.elements.password.value;
      var data = await graphql(url, REGISTER_OPTIONS, { password: password || null });
      var options = creationOptions(data.users_me_passkey_register_options);
      var credential = await navigator.credentials.create({ publicKey: options });
      var name = form.elements.name.value.trim();
      await graphql(url, REGISTER, { credential: credentialJSON(credential), name: name || null });
      form.reset();
      confirm.hidden = true;
      await refresh();
    }, function (error) {
      if (error instanceof Failure && error.code === "FORBIDDEN") {
        // Not a recent enough sign-in: ask for the password (or a new sign-in).
        confirm.hidden = false;
        form.elements.password.focus();
      }
    });

    refresh()
      .then(function () {
        status.hidden = true;
        document.getElementById("manage").hidden = false;
      })
      .catch(function (error) {
        status.hidden = true;
        if (error instanceof Failure && ["FORBIDDEN", "INVALID_TOKEN", "TOKEN_EXPIRED"].includes(error.code)) {
          document.getElementById("signed-out").hidden = false;
        } else {
          explain(problem, error);
        }
      });
  }

  var loginForm = document.getElementById("passkey-login");
  if (loginForm) loginPage(loginForm);
  var manage = document.getElementById("passkeys");
  if (manage) managePage(manage);
})();
