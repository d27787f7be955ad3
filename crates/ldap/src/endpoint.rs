//! LDAP sync sources and destinations: the core's [`EntrySource`] and [`Destination`] traits over an
//! [`LdapClient`], built from the configuration store.

use std::time::Duration;

use async_trait::async_trait;
use ferrosync::config::Config;
use ferrosync::endpoint::{
    Correlated, Destination, EndpointError, EndpointResult, EntrySource, Modification as CoreMod,
};
use ferrosync::entry::{Entry, Value};
use ferrosync::mapping::PipeMapping;
use ferrosync::secret::SecretBox;
use ferrosync::settings::{
    AuthenticationMethod, ConnectionSecurity, HostnameVerification, KeyManagerSettings, LdapDestinationSettings,
    LdapEndpointSettings, LdapServerSettings, LdapSourceSettings, RetrySettings, TrustManagerSettings, TrustSource,
};
use ferrosync::store::ServerRoot;
use ferrosync::syntax::{ldap_filter_escape, Dn};
use tokio::sync::mpsc;

use crate::adstate::{needs_relax, relax_controls, DestinationState, MappedState};
use crate::{
    ClientCertificate, ClientOptions, ErrorClass, LdapClient, LdapError, Modification, RetryPolicy, Scope, Security,
    ServerConfig, Trust,
};

const PAGE_SIZE: u32 = 500;

/// The core's error for an LDAP failure: whether a retry may help, and the message.
pub fn endpoint_error(e: LdapError) -> EndpointError {
    match &e {
        LdapError::Config { .. } | LdapError::Bind { .. } | LdapError::ExternalBind { .. } => {
            EndpointError::Config(e.to_string())
        }
        LdapError::Connect { .. } | LdapError::AllServersFailed { .. } | LdapError::ConnectionLost { .. } => {
            EndpointError::Unavailable(e.to_string())
        }
        LdapError::Timeout { .. } => EndpointError::Retryable(e.to_string()),
        _ if e.class() == ErrorClass::Retry => EndpointError::Retryable(e.to_string()),
        // busy (51), unavailable (52), server down (81), connect error (91), from the only server there was.
        _ if e.class() == ErrorClass::Failover => EndpointError::Unavailable(e.to_string()),
        LdapError::Result { rc: 53, text, .. } if says_read_only(text) => EndpointError::Retryable(e.to_string()),
        _ => EndpointError::Rejected(e.to_string()),
    }
}

/// Whether an unwillingToPerform (53) says the server takes no writes for now (a read-only replica, a
/// server in lockdown): the write works once the server (or the one failed over to) takes writes again. Other
/// 53s refuse the request itself (an empty password, a hash the server will not store) and stay refused.
fn says_read_only(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    ["read-only", "read only", "readonly", "shadow context", "lockdown", "operation restricted"]
        .iter()
        .any(|m| t.contains(m))
}

fn settings_error(e: ferrosync::settings::SettingsError) -> EndpointError {
    EndpointError::Config(e.to_string())
}

/// The retry policy of a pipe (`max-operation-attempts`, `retry-backoff-*`).
pub fn retry_policy(pipe: &RetrySettings) -> RetryPolicy {
    RetryPolicy {
        max_attempts: pipe.max_operation_attempts,
        initial_wait: pipe.retry_backoff_initial_wait,
        max_wait: pipe.retry_backoff_max_wait,
        increase_by: pipe.retry_backoff_increase_by,
        percentage_increase: pipe.retry_backoff_percentage_increase,
    }
}

/// One external server's connection settings.
pub fn server_config(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    server: &LdapServerSettings,
    response_timeout: Option<Duration>,
) -> Result<ServerConfig, EndpointError> {
    let label = &server.label;
    let cfg_err = |m: String| EndpointError::Config(m);
    let security = match server.connection_security {
        ConnectionSecurity::Ssl => Security::Ssl,
        ConnectionSecurity::StartTls | ConnectionSecurity::StartTlsOld => Security::StartTls,
        ConnectionSecurity::None => Security::None,
    };
    let trust = match &server.trust_manager_provider {
        None => Trust::System,
        Some(name) => {
            let tmp = TrustManagerSettings::of(config, name)
                .map_err(|_| cfg_err(format!("the trust manager provider '{name}' of the {label} does not exist")))?;
            if !tmp.enabled && security != Security::None {
                return Err(cfg_err(format!(
                    "the {} used by the {label} is disabled: run dsconfig set-trust-manager-provider-prop --provider-name \"{name}\" --set enabled:true",
                    tmp.label
                )));
            }
            match tmp.trust {
                Some(TrustSource::Any) => Trust::TrustAll,
                Some(TrustSource::CaFile(store)) => {
                    Trust::Certificates(store.certificates(config, secrets, root).map_err(cfg_err)?)
                }
                _ => Trust::System,
            }
        }
    };
    let mut sc = ServerConfig::new(&server.name, &server.host, server.port).with_security(security, trust);
    sc.verify_hostname = server.hostname_verification != HostnameVerification::AllowAll;
    if server.authentication_method == AuthenticationMethod::InterServer {
        // Never a simple bind in its place: the operator asked for Ping's inter-server authentication.
        return Err(cfg_err(format!(
            "the {label} has authentication-method:inter-server, which ferrosync does not implement \
             (PingDirectory's inter-server authentication): use authentication-method:simple with bind-dn and \
             password, or external with a client certificate (over connection-security:ssl or start-tls)"
        )));
    }
    let external = server.authentication_method == AuthenticationMethod::External;
    if external && security == Security::None {
        return Err(cfg_err(format!(
            "the {label} has authentication-method:external (SASL EXTERNAL with a TLS client certificate) over \
             connection-security:none: set connection-security:ssl or start-tls"
        )));
    }
    match &server.key_manager_provider {
        Some(name) if security != Security::None => {
            let store = KeyManagerSettings::key_store_of(config, name, label).map_err(cfg_err)?;
            let ks = store.read(config, secrets, root).map_err(cfg_err)?;
            let (certificates_pem, key_pem) = ks.to_pem().map_err(|e| {
                cfg_err(format!("the client certificate of the key-manager-provider '{name}' of the {label}: {e}"))
            })?;
            let source = format!("key-manager-provider '{name}'");
            sc = sc.with_client_certificate(ClientCertificate { certificates_pem, key_pem, source }, external);
        }
        None if external => {
            return Err(cfg_err(format!(
                "the {label} has authentication-method:external (SASL EXTERNAL), which binds as the identity of a \
                 TLS client certificate, but no key-manager-provider: set key-manager-provider to a file-based \
                 provider with the client certificate and its key"
            )));
        }
        _ => {}
    }
    if server.authentication_method == AuthenticationMethod::Simple {
        if let Some(dn) = &server.bind_dn {
            let pw = ferrosync::secret::reveal_setting(config, secrets, root, &server.password)
                .map_err(cfg_err)?
                .ok_or_else(|| cfg_err(format!("the {label} has a bind-dn but no password or passphrase-provider")))?;
            sc = sc.with_bind(dn, pw);
        }
    }
    let response = response_timeout.unwrap_or(server.response_timeout);
    sc = sc.with_timeouts(server.connect_timeout, response);
    Ok(sc.with_connections(server.initial_connections, server.max_connections))
}

/// A client over the `server` list of a sync source or destination, in failover order.
pub fn client_from_config(
    config: &Config,
    secrets: &SecretBox,
    root: &ServerRoot,
    endpoint: &LdapEndpointSettings,
    retry: &RetrySettings,
) -> Result<LdapClient, EndpointError> {
    let mut servers = Vec::new();
    for name in &endpoint.servers {
        let s = LdapServerSettings::of(config, name).map_err(|e| match e {
            ferrosync::settings::SettingsError::NoSuchObject { .. } => {
                EndpointError::Config(format!("the external server '{name}' of the {} does not exist", endpoint.label))
            }
            e => settings_error(e),
        })?;
        servers.push(server_config(config, secrets, root, &s, endpoint.response_timeout)?);
    }
    if servers.is_empty() {
        return Err(EndpointError::Config(format!("the {} has no server", endpoint.label)));
    }
    let options = ClientOptions { retry: retry_policy(retry), ..ClientOptions::default() };
    LdapClient::new(servers, options).map_err(endpoint_error)
}

/// The retry policy of pipe `pipe`, for its endpoints' clients. Only the policy is read: a detector or an
/// endpoint does not need the pipe's other settings to be complete.
pub(crate) fn pipe_retry(config: &Config, pipe: &str) -> Result<RetrySettings, EndpointError> {
    RetrySettings::of(config, pipe).map_err(settings_error)
}

/// A directory read over LDAP.
pub struct LdapSource {
    name: String,
    client: LdapClient,
    base_dns: Vec<String>,
    unique_id_attribute: String,
    attributes: Vec<String>,
    /// An Active Directory source: entries get the password policy state intermediate attributes
    /// ([`crate::adstate::add_intermediates`]).
    ad_state: bool,
}

impl LdapSource {
    pub fn new(
        name: &str,
        client: LdapClient,
        base_dns: Vec<String>,
        unique_id_attribute: &str,
        attributes: Vec<String>,
    ) -> Self {
        LdapSource {
            name: name.to_string(),
            client,
            base_dns,
            unique_id_attribute: unique_id_attribute.to_string(),
            attributes,
            ad_state: false,
        }
    }

    /// Makes this an Active Directory source: every entry read gets the intermediate attributes
    /// `pwdAccountLockedTimeFromAD`, `ds-pwp-account-disabled-from-ad` and `pwdChangedTimeFromAD`.
    pub fn with_ad_state(mut self) -> Self {
        self.ad_state = true;
        self
    }

    fn finish(&self, mut e: Entry) -> Entry {
        if self.ad_state {
            crate::adstate::add_intermediates(&mut e);
        }
        e
    }

    /// The source `source` of pipe `pipe`, reading the attributes the pipe's classes need.
    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        source: &str,
        mapping: &PipeMapping,
    ) -> Result<LdapSource, EndpointError> {
        let p = pipe_retry(config, pipe)?;
        let s = LdapSourceSettings::of(config, source).map_err(settings_error)?;
        let client = client_from_config(config, secrets, root, &s.endpoint, &p)?;
        let uid = s.unique_id_attribute.as_str();
        let attrs = mapping.source_attributes(uid);
        let bases = s.endpoint.base_dns.clone();
        Ok(LdapSource::new(source, client, bases, uid, attrs))
    }

    pub fn client(&self) -> &LdapClient {
        &self.client
    }

    fn attrs(&self) -> Vec<&str> {
        self.attributes.iter().map(String::as_str).collect()
    }

    /// The filter that finds the entry whose unique id is `id` (an AD GUID string becomes its binary value).
    fn id_filter(&self, id: &str) -> String {
        match crate::dirsync::guid_from_string(id) {
            Some(bytes) if self.is_guid() => assertion(&self.unique_id_attribute, &Value::Binary(bytes.to_vec())),
            _ => format!("({}={})", self.unique_id_attribute, ldap_filter_escape(id)),
        }
    }

    /// Whether the unique id is Active Directory's binary `objectGUID` (shown in AD's string form).
    fn is_guid(&self) -> bool {
        self.unique_id_attribute.eq_ignore_ascii_case("objectGUID")
    }
}

#[async_trait]
impl EntrySource for LdapSource {
    fn name(&self) -> &str {
        &self.name
    }

    async fn fetch(&self, dn: &str) -> EndpointResult<Option<Entry>> {
        Ok(self.client.get(dn, &self.attrs()).await.map_err(endpoint_error)?.map(|e| self.finish(e)))
    }

    async fn fetch_by_unique_id(&self, id: &str) -> EndpointResult<Option<Entry>> {
        let filter = self.id_filter(id);
        for base in &self.base_dns {
            let found =
                self.client.search(base, Scope::Subtree, &filter, &self.attrs()).await.map_err(endpoint_error)?;
            if let Some(e) = found.into_iter().next() {
                return Ok(Some(self.finish(e)));
            }
        }
        Ok(None)
    }

    async fn check(&self) -> EndpointResult<()> {
        self.client.check_bind().await.map(|_| ()).map_err(endpoint_error)
    }

    fn unique_id(&self, entry: &Entry) -> Option<String> {
        if self.is_guid() {
            return crate::dirsync::object_guid(entry);
        }
        entry.first_text(&self.unique_id_attribute)
    }

    /// One search per 64 ids and base DN (`(|(entryUUID=a)(entryUUID=b)...)`), served by the unique id's index.
    async fn fetch_many_by_unique_id(
        &self,
        ids: &[String],
    ) -> EndpointResult<std::collections::HashMap<String, Entry>> {
        let mut out = std::collections::HashMap::new();
        for chunk in ids.chunks(64) {
            let mut filter = String::from("(|");
            for id in chunk {
                filter.push_str(&self.id_filter(id));
            }
            filter.push(')');
            for base in &self.base_dns {
                let found =
                    self.client.search(base, Scope::Subtree, &filter, &self.attrs()).await.map_err(endpoint_error)?;
                for e in found {
                    if let Some(id) = self.unique_id(&e) {
                        out.insert(id.to_ascii_lowercase(), self.finish(e));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn stream(&self, filter: Option<&str>, tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        let filter = filter.unwrap_or("(objectClass=*)");
        if !self.ad_state {
            return stream_subtrees(&self.client, &self.base_dns, filter, &self.attrs(), tx).await;
        }
        let (inner_tx, mut inner_rx) = mpsc::channel(PAGE_SIZE as usize);
        let attrs = self.attrs();
        let read = stream_subtrees(&self.client, &self.base_dns, filter, &attrs, inner_tx);
        let forward = async move {
            while let Some(item) = inner_rx.recv().await {
                if tx.send(item.map(|e| self.finish(e))).await.is_err() {
                    break;
                }
            }
        };
        let (r, ()) = tokio::join!(read, forward);
        r
    }

    async fn count(&self, filter: Option<&str>) -> EndpointResult<Option<u64>> {
        let filter = filter.unwrap_or("(objectClass=*)");
        let mut n = 0;
        for base in &self.base_dns {
            let mut stream = self
                .client
                .search_stream(base, Scope::Subtree, filter, &["1.1"], 2000)
                .await
                .map_err(endpoint_error)?;
            while let Some(item) = stream.next().await {
                item.map_err(endpoint_error)?;
                n += 1;
            }
        }
        Ok(Some(n))
    }
}

/// A directory written over LDAP.
pub struct LdapDestination {
    name: String,
    client: LdapClient,
    base_dns: Vec<String>,
    /// How the server holds the mapped password policy state ([`crate::adstate`]).
    state: DestinationState,
}

impl LdapDestination {
    /// Renames or moves entry `id` to `new_dn` (modify DN, with a new superior when the parent changes).
    pub(crate) async fn rename_entry(&self, id: &str, new_dn: &str, delete_old_rdn: bool) -> EndpointResult<String> {
        let old = Dn::parse(id).map_err(|e| EndpointError::Rejected(format!("'{id}' is not a DN: {e}")))?;
        let new = Dn::parse(new_dn).map_err(|e| EndpointError::Rejected(format!("'{new_dn}' is not a DN: {e}")))?;
        let rdn = new
            .rdn()
            .map(|r| r.to_string())
            .ok_or_else(|| EndpointError::Rejected("cannot rename to the root DN".into()))?;
        let new_parent = new.parent();
        let superior = if new_parent != old.parent() { new_parent.map(|p| p.to_string()) } else { None };
        self.client.modify_dn(id, &rdn, delete_old_rdn, superior.as_deref()).await.map_err(endpoint_error)?;
        Ok(new_dn.to_string())
    }

    pub fn new(name: &str, client: LdapClient, base_dns: Vec<String>) -> Self {
        let state = DestinationState::new(MappedState::default(), "generic-ldap");
        LdapDestination { name: name.to_string(), client, base_dns, state }
    }

    /// Writes the password policy state attributes that `mapped` says the pipe maps in the form of the server
    /// (see [`crate::adstate`]): by destination type, and for `generic-ldap` by the server's root DSE.
    pub fn with_state(mut self, mapped: MappedState, destination_type: &str) -> Self {
        self.state = DestinationState::new(mapped, destination_type);
        self
    }

    /// The attributes to read for a diff (the server's state attributes added).
    async fn diff_attributes(&self, attrs: &[String]) -> Vec<String> {
        let dialect = self.state.dialect(&self.client).await;
        self.state.fetch_attributes(dialect, attrs)
    }

    /// A modify, with the Relax control when `relax` (or when slapd says an attribute needs it).
    async fn modify_relaxed(&self, id: &str, mods: &[Modification], relax: bool) -> Result<(), LdapError> {
        match self.client.modify_with_controls(id, mods, relax_controls(relax)).await {
            Err(e) if !relax && needs_relax(&e) => {
                self.client.modify_with_controls(id, mods, relax_controls(true)).await
            }
            other => other,
        }
    }

    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        destination: &str,
    ) -> Result<LdapDestination, EndpointError> {
        let p = pipe_retry(config, pipe)?;
        let d = LdapDestinationSettings::of(config, destination).map_err(settings_error)?;
        let client = client_from_config(config, secrets, root, &d.endpoint, &p)?;
        Ok(LdapDestination::new(destination, client, d.endpoint.base_dns))
    }

    pub fn client(&self) -> &LdapClient {
        &self.client
    }
}

/// An equality assertion `(attr=value)`, binary values escaped byte by byte.
fn assertion(attr: &str, value: &Value) -> String {
    match value {
        Value::Binary(b) => format!("({attr}={})", b.iter().map(|x| format!("\\{x:02x}")).collect::<String>()),
        other => format!("({attr}={})", ldap_filter_escape(&other.as_text())),
    }
}

fn to_ldap_mod(m: &CoreMod) -> Modification {
    match m {
        CoreMod::Add(a, v) => Modification::Add(a.clone(), v.clone()),
        CoreMod::Delete(a, v) => Modification::Delete(a.clone(), v.clone()),
        CoreMod::Replace(a, v) => Modification::Replace(a.clone(), v.clone()),
    }
}

#[async_trait]
impl Destination for LdapDestination {
    fn name(&self) -> &str {
        &self.name
    }

    /// Not while password policy state is translated: the state is written from every state attribute at once,
    /// which a blind replace of the changed ones only cannot do.
    fn replaces_values(&self) -> bool {
        !self.state.translates()
    }

    fn prepare_diff(&self, mapped: &Entry, existing: &mut Entry) {
        self.state.prepare_diff(mapped, existing);
    }

    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], attrs: &[String]) -> EndpointResult<Correlated> {
        let default = [vec!["dn".to_string()]];
        let lists = if lists.is_empty() { &default[..] } else { lists };
        let attrs = self.diff_attributes(attrs).await;
        let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
        let mut many: Option<Vec<String>> = None;
        let by_dn_only = [vec!["dn".to_string()]];
        // When the mapped entry has a value for no list (a container without uid, say), its DN is all there is.
        let fallback =
            lists.iter().all(|l| l.iter().any(|a| !a.eq_ignore_ascii_case("dn") && mapped.values(a).is_empty()));
        let lists = if fallback { &by_dn_only[..] } else { lists };
        'lists: for list in lists {
            let by_dn = list.iter().any(|a| a.eq_ignore_ascii_case("dn"));
            let mut parts = Vec::new();
            for a in list.iter().filter(|a| !a.eq_ignore_ascii_case("dn")) {
                match mapped.values(a).first() {
                    Some(v) => parts.push(assertion(a, v)),
                    // The mapped entry has no value to correlate on: this list cannot be used.
                    None => continue 'lists,
                }
            }
            let filter = match parts.len() {
                0 => "(objectClass=*)".to_string(),
                1 => parts.remove(0),
                _ => format!("(&{})", parts.concat()),
            };
            let found = if by_dn {
                match self.client.search(&mapped.dn, Scope::Base, &filter, &attrs).await {
                    Ok(f) => f,
                    Err(e) if e.is_no_such_object() => Vec::new(),
                    Err(e) => return Err(endpoint_error(e)),
                }
            } else {
                let mut all = Vec::new();
                for base in &self.base_dns {
                    match self.client.search(base, Scope::Subtree, &filter, &attrs).await {
                        Ok(f) => all.extend(f),
                        Err(e) if e.is_no_such_object() => {}
                        Err(e) => return Err(endpoint_error(e)),
                    }
                }
                all
            };
            match found.len() {
                0 => {}
                1 => return Ok(Correlated::One(found.into_iter().next().unwrap_or_default())),
                _ => many = Some(found.into_iter().map(|e| e.dn).collect()),
            }
        }
        Ok(many.map(Correlated::Many).unwrap_or(Correlated::None))
    }

    async fn check(&self) -> EndpointResult<()> {
        self.client.check_bind().await.map(|_| ()).map_err(endpoint_error)
    }

    async fn fetch(&self, id: &str, attrs: &[String]) -> EndpointResult<Option<Entry>> {
        let attrs = self.diff_attributes(attrs).await;
        let attrs: Vec<&str> = attrs.iter().map(String::as_str).collect();
        self.client.get(id, &attrs).await.map_err(endpoint_error)
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        let dialect = self.state.dialect(&self.client).await;
        let (entry, relax) = self.state.native_entry(dialect, entry);
        let added = match self.client.add_with_controls(&entry, relax_controls(relax)).await {
            Err(e) if !relax && needs_relax(&e) => self.client.add_with_controls(&entry, relax_controls(true)).await,
            other => other,
        };
        added.map_err(|e| {
            if e.is_no_such_object() {
                EndpointError::MissingParent(format!("{e} (the parent entry does not exist at the destination)"))
            } else if e.is_already_exists() {
                EndpointError::AlreadyExists(e.to_string())
            } else {
                endpoint_error(e)
            }
        })
    }

    async fn modify(&self, id: &str, mods: &[CoreMod]) -> EndpointResult<()> {
        let error = |e| match endpoint_error(e) {
            EndpointError::MissingParent(m) => EndpointError::Rejected(m),
            other => other,
        };
        let dialect = self.state.dialect(&self.client).await;
        let (rest, state, relax) = self.state.native_mods(dialect, mods);
        let mut mods: Vec<Modification> = rest.iter().map(to_ldap_mod).collect();
        if !relax {
            mods.extend(state);
            return self.modify_relaxed(id, &mods, false).await.map_err(error);
        }
        // The Relax control only where slapd needs it: the rest as a plain modify.
        self.client.modify(id, &mods).await.map_err(error)?;
        self.modify_relaxed(id, &state, true).await.map_err(error)
    }

    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String> {
        // The old RDN values stay: deleting them could leave a required attribute (cn) empty. The diff that
        // follows removes them when the mapped entry does not have them.
        self.rename_entry(id, new_dn, false).await
    }

    async fn delete(&self, id: &str) -> EndpointResult<()> {
        match self.client.delete(id).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_no_such_object() => Ok(()),
            Err(e) => Err(endpoint_error(e)),
        }
    }

    async fn stream(&self, attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        let attrs: Vec<&str> = if attrs.is_empty() { vec!["*"] } else { attrs.iter().map(String::as_str).collect() };
        stream_subtrees(&self.client, &self.base_dns, "(objectClass=*)", &attrs, tx).await
    }
}

/// Sends the entries below each base DN (paged, so memory stays flat) to `tx`, until the receiver is gone.
async fn stream_subtrees(
    client: &LdapClient,
    bases: &[String],
    filter: &str,
    attrs: &[&str],
    tx: mpsc::Sender<EndpointResult<Entry>>,
) -> EndpointResult<()> {
    for base in bases {
        let mut stream =
            client.search_stream(base, Scope::Subtree, filter, attrs, PAGE_SIZE).await.map_err(endpoint_error)?;
        while let Some(item) = stream.next().await {
            if tx.send(item.map_err(endpoint_error)).await.is_err() {
                return Ok(());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(rc: u32, text: &str) -> LdapError {
        LdapError::Result {
            server: "ds (127.0.0.1:389)".into(),
            operation: "add".into(),
            dn: "uid=a,dc=example,dc=com".into(),
            rc,
            text: text.into(),
            matched: String::new(),
        }
    }

    fn server_with(props_in: &[(&str, &str)]) -> Result<ServerConfig, String> {
        // The refusals come before any file of the root is read.
        let root = ServerRoot::new("/nonexistent/ferrosync-test-root");
        let mut config = Config::builtin();
        let t = ferrosync::model::find_type("external-server").unwrap();
        let mut props = std::collections::BTreeMap::new();
        for (k, v) in [("server-host-name", "h"), ("bind-dn", "cn=sync"), ("password", "pw")].iter().chain(props_in) {
            props.insert(k.to_string(), vec![v.to_string()]);
        }
        let mut objects = config.objects().to_vec();
        objects.push(ferrosync::config::ConfigObject {
            object_type: t,
            names: vec!["ds".into()],
            variant: Some("generic-ldap".into()),
            props,
        });
        config = Config::from_objects(objects);
        let s = LdapServerSettings::of(&config, "ds").unwrap();
        server_config(&config, &SecretBox::new(root.key_path()), &root, &s, None).map_err(|e| e.to_string())
    }

    /// `authentication-method: external` (SASL EXTERNAL) is never turned into a simple bind: without TLS or
    /// without a key manager provider it is refused, naming what to set; inter-server is refused.
    #[test]
    fn external_authentication_needs_tls_and_a_client_certificate_never_a_simple_bind() {
        let e = server_with(&[("authentication-method", "external")]).unwrap_err();
        assert!(e.contains("authentication-method:external") && e.contains("connection-security:ssl"), "{e}");
        let e = server_with(&[("authentication-method", "external"), ("connection-security", "ssl")]).unwrap_err();
        assert!(e.contains("no key-manager-provider") && e.contains("set key-manager-provider"), "{e}");
        let e = server_with(&[("authentication-method", "inter-server")]).unwrap_err();
        assert!(e.contains("authentication-method:inter-server") && e.contains("does not implement"), "{e}");
        let e = server_with(&[
            ("authentication-method", "external"),
            ("connection-security", "ssl"),
            ("key-manager-provider", "none-such"),
        ])
        .unwrap_err();
        assert!(e.contains("none-such"), "{e}");
    }

    #[test]
    fn busy_unavailable_and_read_only_servers_are_failures_that_may_pass() {
        for rc in [51, 52, 81, 91] {
            assert!(matches!(endpoint_error(result(rc, "")), EndpointError::Unavailable(_)), "{rc}");
        }
        for text in ["Server is read-only", "shadow context; no update referral", "operation restricted"] {
            assert!(matches!(endpoint_error(result(53, text)), EndpointError::Retryable(_)), "{text}");
        }
        // Other refusals stay refused: retrying cannot fix them.
        assert!(matches!(endpoint_error(result(53, "password may not be empty")), EndpointError::Rejected(_)));
        assert!(matches!(endpoint_error(result(65, "object class violation")), EndpointError::Rejected(_)));
        assert!(matches!(endpoint_error(result(80, "")), EndpointError::Retryable(_)));
    }
}
