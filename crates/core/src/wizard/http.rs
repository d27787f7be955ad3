//! The wizard's HTTP endpoints: a SCIM 2.0 service (a destination) and PingOne (a source or a destination).
//! Their questions (service URL and authorization; environment, URLs, worker application, population), and the
//! preset that a working pipe between one of them and an LDAP directory needs: LDAP `inetOrgPerson` entries
//! become SCIM Users (an endpoint mapping and its attribute mappings) or PingOne users (an attribute map), and
//! PingOne users become `inetOrgPerson` entries below the LDAP destination's base DN (a DN map and an attribute
//! map), all in one sync class named `users`, as in `sample-dsconfig-batch-files/reference-sync-ldap-to-scim2`
//! and `reference-ping-one-sync-source-configuration`.

use super::plan::{set, words};
use super::{Endpoint, Wizard, WizardError, QUESTIONS};
use crate::model::{check_value, Syntax};
use crate::secret::Secret;

/// The name of the preset sync class.
pub const PRESET_CLASS: &str = "users";

/// How requests to a SCIM service are authorized.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScimAuth {
    Bearer { token: Secret },
    Basic { username: String, password: Secret },
    ClientCredentials { token_url: String, client_id: String, client_secret: Secret },
}

/// What an HTTP endpoint needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Http {
    Scim2 {
        url: String,
        auth: ScimAuth,
    },
    PingOne {
        api_url: String,
        /// `None`: derived from the API URL by the PingOne client.
        auth_url: Option<String>,
        environment_id: String,
        client_id: String,
        client_secret: Secret,
        /// A source's populations to synchronize (all when empty); a destination's population for new users.
        populations: Vec<String>,
    },
}

/// An HTTP endpoint of kind `key` that exists in the configuration already: only its kind matters (for the
/// preset class); nothing of it is written.
pub fn placeholder(key: &str) -> Http {
    if key == "scim2" {
        return Http::Scim2 { url: String::new(), auth: ScimAuth::Bearer { token: Secret::default() } };
    }
    Http::PingOne {
        api_url: String::new(),
        auth_url: None,
        environment_id: String::new(),
        client_id: String::new(),
        client_secret: Secret::default(),
        populations: Vec::new(),
    }
}

/// Whether the endpoint kind `key` is reached over HTTP (asked and written here).
pub fn is_http(key: &str) -> bool {
    matches!(key, "scim2" | "pingone")
}

/// The question `{role}{suffix}`.
fn key(role: &str, suffix: &str) -> &'static str {
    QUESTIONS.iter().find(|q| q.key == format!("{role}{suffix}")).map(|q| q.key).unwrap_or("")
}

/// An https:// URL: the endpoint is sent credentials, which never go over plain HTTP from the wizard (dsconfig's
/// `allow-credentials-over-http` is for the operator who means it).
fn check_url(s: &str) -> Result<String, String> {
    let url = check_value(&Syntax::Url, s.trim()).map(|v| v.trim_end_matches('/').to_string())?;
    if crate::https::is_plain_http(&url) {
        return Err(format!(
            "'{url}' is plain HTTP, and the credentials would go in clear text: use an https:// URL (to send them \
             over HTTP anyway, set allow-credentials-over-http:true with dsconfig once the pipe is created)"
        ));
    }
    Ok(url)
}

fn check_text(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("an answer is needed".into());
    }
    Ok(t.to_string())
}

/// A PingOne population id (a UUID) rather than a name.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.split('-').map(str::len).eq([8, 4, 4, 4, 12])
        && s.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

impl Wizard<'_> {
    /// The questions of an HTTP endpoint of kind `kind` (see [`is_http`]).
    pub(super) fn http_endpoint(&mut self, role: &'static str, kind: &str) -> Result<Http, WizardError> {
        loop {
            let h = if kind == "scim2" { self.scim2(role)? } else { self.pingone(role)? };
            let what = if kind == "scim2" { "the SCIM service" } else { "PingOne" };
            self.prompter.note(&format!("Testing the connection to {what} ..."));
            let Err(reason) = self.probe.check_http(&h) else {
                self.prompter.note(&format!("Connected to {what}."));
                return Ok(h);
            };
            let reason = format!("cannot use {what}: {reason}");
            let keys: Vec<&'static str> = QUESTIONS
                .iter()
                .map(|q| q.key)
                .filter(|k| k.starts_with(role) && (k.contains("Scim") || k.contains("PingOne")))
                .collect();
            if self.no_prompt || keys.iter().any(|k| self.given.get(k).is_some()) {
                let key = if kind == "scim2" { key(role, "ScimServiceURL") } else { key(role, "PingOneEnvironmentID") };
                return Err(WizardError::Check { key: key.into(), reason });
            }
            self.prompter.note(&format!("{reason}. Enter them again."));
            for k in keys {
                self.taken.values.remove(k);
            }
        }
    }

    fn pingone(&mut self, role: &'static str) -> Result<Http, WizardError> {
        let env = self.ask(
            key(role, "PingOneEnvironmentID"),
            &format!("PingOne environment id of the {role}"),
            None,
            &check_text,
        )?;
        let api_url =
            self.ask(key(role, "PingOneAPIURL"), "PingOne API URL", Some("https://api.pingone.com/v1"), &check_url)?;
        let auth_url = self.ask(
            key(role, "PingOneAuthURL"),
            "PingOne token URL (press Enter to derive it from the API URL and the environment)",
            Some(""),
            &|s| if s.trim().is_empty() { Ok(String::new()) } else { check_url(s) },
        )?;
        let client_id =
            self.ask(key(role, "PingOneClientID"), "Client id of the PingOne worker application", None, &check_text)?;
        let client_secret = self.password(
            key(role, "PingOneClientSecret"),
            key(role, "PingOneClientSecretFile"),
            &format!("Client secret of {client_id}"),
        )?;
        let populations = if role == "source" {
            self.optional_many(
                key(role, "PingOnePopulation"),
                "Population (name or id) whose users are synchronized (press Enter for all populations)",
            )?
        } else {
            let p = self.ask(
                key(role, "PingOnePopulation"),
                "Population (name or id) new users are created in (press Enter for the environment's default)",
                Some(""),
                &|s| Ok(s.trim().to_string()),
            )?;
            if p.is_empty() {
                Vec::new()
            } else {
                vec![p]
            }
        };
        Ok(Http::PingOne {
            api_url,
            auth_url: (!auth_url.is_empty()).then_some(auth_url),
            environment_id: env,
            client_id,
            client_secret,
            populations,
        })
    }

    fn scim2(&mut self, role: &'static str) -> Result<Http, WizardError> {
        let url = self.ask(
            key(role, "ScimServiceURL"),
            "Base URL of the SCIM 2.0 service (without /Users), such as https://host/scim/v2",
            None,
            &check_url,
        )?;
        let auth = self.choose_key(
            key(role, "ScimAuth"),
            "How requests to the SCIM service are authorized",
            &[
                ("bearer-token", "A fixed bearer token"),
                ("basic", "HTTP basic authentication (user name and password)"),
                ("client-credentials", "An OAuth 2.0 token from the client-credentials grant"),
            ],
            Some("bearer-token"),
        )?;
        let auth = match auth.as_str() {
            "basic" => {
                let username = self.ask(key(role, "ScimUsername"), "SCIM user name", None, &check_text)?;
                let password = self.password(
                    key(role, "ScimPassword"),
                    key(role, "ScimPasswordFile"),
                    &format!("Password of {username}"),
                )?;
                ScimAuth::Basic { username, password }
            }
            "client-credentials" => {
                let token_url =
                    self.ask(key(role, "ScimTokenURL"), "OAuth 2.0 token endpoint URL", None, &check_url)?;
                let client_id = self.ask(key(role, "ScimClientID"), "OAuth 2.0 client id", None, &check_text)?;
                let client_secret = self.password(
                    key(role, "ScimClientSecret"),
                    key(role, "ScimClientSecretFile"),
                    &format!("Client secret of {client_id}"),
                )?;
                ScimAuth::ClientCredentials { token_url, client_id, client_secret }
            }
            _ => ScimAuth::Bearer {
                token: self.password(key(role, "ScimBearerToken"), key(role, "ScimBearerTokenFile"), "Bearer token")?,
            },
        };
        Ok(Http::Scim2 { url, auth })
    }

    /// Values that may be none: given, none under --no-prompt, or asked until an empty answer.
    fn optional_many(&mut self, key: &'static str, prompt: &str) -> Result<Vec<String>, WizardError> {
        if self.given.get(key).is_some() {
            return self.ask_many(key, prompt, None, &check_text);
        }
        let mut out = Vec::new();
        if self.no_prompt {
            return Ok(out);
        }
        loop {
            let p = if out.is_empty() { prompt.to_string() } else { format!("{prompt} (another one)") };
            let v = self.prompter.input(&p, None, &|s| Ok(s.trim().to_string()))?;
            if v.is_empty() {
                return Ok(out);
            }
            self.record(key, &v);
            out.push(v);
        }
    }
}

impl Http {
    /// Lines for the review screen (no secret).
    pub fn review(&self) -> String {
        match self {
            Http::Scim2 { url, auth } => {
                let how = match auth {
                    ScimAuth::Bearer { .. } => "a bearer token *****".to_string(),
                    ScimAuth::Basic { username, .. } => format!("basic, user {username}, password *****"),
                    ScimAuth::ClientCredentials { token_url, client_id, .. } => {
                        format!("OAuth client {client_id} (secret *****) at {token_url}")
                    }
                };
                format!("    SCIM 2.0 service: {url} ({how})\n")
            }
            Http::PingOne { api_url, environment_id, client_id, populations, .. } => format!(
                "    PingOne: environment {environment_id} at {api_url}, worker application {client_id} (secret *****)\n    populations: {}\n",
                if populations.is_empty() { "(all / default)".to_string() } else { populations.join("; ") }
            ),
        }
    }

    fn pingone_props(&self, w: &mut Vec<String>) {
        if let Http::PingOne { api_url, auth_url, environment_id, client_id, client_secret, .. } = self {
            set(w, "api-url", api_url);
            if let Some(a) = auth_url {
                set(w, "auth-url", a);
            }
            set(w, "environment-id", environment_id);
            set(w, "oauth-client-id", client_id);
            set(w, "oauth-client-secret", client_secret.expose());
        }
    }

    /// The `create-sync-source` command (PingOne).
    pub fn source_commands(&self, name: &str) -> Vec<Vec<String>> {
        let mut w = words(&["create-sync-source", "--source-name", name, "--type", "ping-one-customer"]);
        self.pingone_props(&mut w);
        if let Http::PingOne { populations, .. } = self {
            for p in populations {
                set(&mut w, "population-to-synchronize", p);
            }
        }
        vec![w]
    }

    /// The commands that create the destination `name` (and, for SCIM, its server and endpoint mapping).
    pub fn destination_commands(&self, name: &str) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        match self {
            Http::PingOne { populations, .. } => {
                let mut w =
                    words(&["create-sync-destination", "--destination-name", name, "--type", "ping-one-customer"]);
                self.pingone_props(&mut w);
                if let Some(p) = populations.first() {
                    set(&mut w, if is_uuid(p) { "default-population-id" } else { "default-population-name" }, p);
                }
                out.push(w);
            }
            Http::Scim2 { url, auth } => {
                let method = format!("{name} authorization");
                let mut w = words(&["create-http-authorization-method", "--method-name", &method, "--type"]);
                match auth {
                    ScimAuth::Bearer { token } => {
                        w.push("static-bearer-token".into());
                        set(&mut w, "bearer-token", token.expose());
                    }
                    ScimAuth::Basic { username, password } => {
                        w.push("basic".into());
                        set(&mut w, "username", username);
                        set(&mut w, "password", password.expose());
                    }
                    ScimAuth::ClientCredentials { token_url, client_id, client_secret } => {
                        w.push("client-credentials-bearer-token".into());
                        set(&mut w, "oauth-server-token-endpoint-url", token_url);
                        set(&mut w, "oauth-client-id", client_id);
                        set(&mut w, "oauth-client-secret", client_secret.expose());
                    }
                }
                out.push(w);
                let mut w = words(&["create-external-server", "--server-name", name, "--type", "scim2"]);
                set(&mut w, "scim-service-url", url);
                set(&mut w, "http-authorization-method", &method);
                out.push(w);
                // SCIM User attributes from the mapped entry's (LDAP) attributes.
                let m = |a: &str| format!("{name} {a}");
                for (scim, ldap) in [
                    ("userName", "uid"),
                    ("displayName", "cn"),
                    ("title", "title"),
                    ("givenName", "givenName"),
                    ("familyName", "sn"),
                ] {
                    let mut w = words(&["create-scim2-attribute-mapping", "--mapping-name", &m(scim), "--type"]);
                    w.push("string".into());
                    set(&mut w, "scim-attribute-name", scim);
                    set(&mut w, "ldap-attribute-name", ldap);
                    set(&mut w, "single-valued", "true");
                    out.push(w);
                }
                let mut w = words(&[
                    "create-scim2-attribute-mapping",
                    "--mapping-name",
                    &m("name"),
                    "--type",
                    "composed-complex",
                ]);
                set(&mut w, "scim-attribute-name", "name");
                set(&mut w, "sub-attribute-mapping", &m("givenName"));
                set(&mut w, "sub-attribute-mapping", &m("familyName"));
                out.push(w);
                let mut w = words(&["create-scim2-attribute-mapping", "--mapping-name", &m("emails"), "--type"]);
                w.push("json-formatted-complex".into());
                set(&mut w, "scim-attribute-name", "emails");
                set(&mut w, "ldap-attribute-name", "scimEmails");
                out.push(w);
                let mut w = words(&["create-scim2-endpoint-mapping", "--mapping-name", &m("Users")]);
                set(&mut w, "endpoint-path", "Users");
                set(&mut w, "schema-urn", "urn:ietf:params:scim:schemas:core:2.0:User");
                for a in ["userName", "displayName", "title", "name", "emails"] {
                    set(&mut w, "attribute-mapping", &m(a));
                }
                set(&mut w, "search-attribute-mapping", &m("userName"));
                set(&mut w, "sync-class-name", PRESET_CLASS);
                out.push(w);
                let mut w = words(&["create-sync-destination", "--destination-name", name, "--type", "scim2"]);
                set(&mut w, "server", name);
                set(&mut w, "endpoint-mapping", &m("Users"));
                out.push(w);
            }
        }
        out
    }
}

/// An attribute mapping: the attribute, its type, and its properties.
type Mapping<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)]);

/// The `create-attribute-map` command of map `map` and the `create-attribute-mapping` commands of `items`.
fn mappings(out: &mut Vec<Vec<String>>, map: &str, items: &[Mapping]) {
    out.push(words(&["create-attribute-map", "--map-name", map]));
    for (attr, ty, props) in items {
        let mut w = words(&["create-attribute-mapping", "--map-name", map, "--mapping-name", attr, "--type", ty]);
        for (p, v) in *props {
            set(&mut w, p, v);
        }
        out.push(w);
    }
}

/// The attribute map, DN map and sync class of a pipe with an HTTP endpoint; nothing when it has none.
pub fn preset_commands(pipe: &str, from: &Endpoint, to: &Endpoint) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let map = format!("{pipe} {PRESET_CLASS}");
    let mut class = words(&["create-sync-class", "--pipe-name", pipe, "--class-name", PRESET_CLASS]);
    set(&mut class, "evaluation-order-index", "10");
    match (&from.http, &to.http) {
        (None, Some(Http::Scim2 { .. })) => {
            let email = r#"{{"value":"{mail:jsonEscape}","type":"work","primary":true}}"#;
            mappings(&mut out, &map, &[("scimEmails", "constructed", &[("value-pattern", email)])]);
            set(&mut class, "include-filter", "(objectClass=inetOrgPerson)");
            set(&mut class, "attribute-map", &map);
            set(&mut class, "auto-mapped-source-attribute", "-all-");
        }
        (None, Some(Http::PingOne { .. })) => {
            let name = r#"{{"given":"{givenName:jsonEscape}","family":"{sn:jsonEscape}"}}"#;
            mappings(
                &mut out,
                &map,
                &[
                    ("resourceType", "constructed", &[("value-pattern", "user")]),
                    ("username", "constructed", &[("value-pattern", "{uid}")]),
                    ("email", "constructed", &[("value-pattern", "{mail}")]),
                    ("name", "constructed", &[("value-pattern", name)]),
                ],
            );
            // PingOne requires an email address
            set(&mut class, "include-filter", "(&(objectClass=inetOrgPerson)(mail=*))");
            set(&mut class, "attribute-map", &map);
            set(&mut class, "auto-mapped-source-attribute", "-none-");
            set(&mut class, "destination-correlation-attributes", "username");
        }
        (Some(Http::PingOne { .. }), None) => {
            let base = to.base_dns.first().cloned().unwrap_or_default();
            let mut w = words(&["create-dn-map", "--map-name", &map]);
            set(&mut w, "from-dn-pattern", "*");
            set(&mut w, "to-dn-pattern", &format!("uid={{username}},{base}"));
            out.push(w);
            mappings(
                &mut out,
                &map,
                &[
                    ("objectClass", "constructed", &[("value-pattern", "inetOrgPerson")]),
                    ("uid", "constructed", &[("value-pattern", "{username}")]),
                    (
                        "cn",
                        "constructed",
                        &[
                            ("conditional-value-pattern", "(name=*) : {name.formatted}"),
                            ("value-pattern", "{username}"),
                        ],
                    ),
                    ("givenName", "constructed", &[("value-pattern", "{name.given}")]),
                    (
                        "sn",
                        "constructed",
                        &[("conditional-value-pattern", "(name=*) : {name.family}"), ("value-pattern", "{username}")],
                    ),
                    ("mail", "constructed", &[("value-pattern", "{email}")]),
                    ("employeeNumber", "direct", &[("from-attribute", "id")]),
                ],
            );
            set(&mut class, "attribute-map", &map);
            set(&mut class, "dn-map", &map);
            set(&mut class, "auto-mapped-source-attribute", "-none-");
            set(&mut class, "destination-correlation-attributes", "employeeNumber");
            set(&mut class, "destination-correlation-attributes", "uid");
        }
        _ => return out,
    }
    out.push(class);
    out
}
