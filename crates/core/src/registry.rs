//! The endpoint registry: which crate serves which `--type`, in one place.
//!
//! Each endpoint crate (`ferrosync-ldap`, `ferrosync-scim`, `ferrosync-pingone`) declares one
//! [`EndpointProvider`]: the sync-source, sync-destination and external-server `--type`s of the model
//! ([`crate::model`]) that it serves, and how it builds a source, a change detector and a destination of those
//! types from the configuration ([`BuildContext`]). The tools crate, which depends on every endpoint crate,
//! assembles them into a [`Registry`]; the tools (resync, realtime-sync, the sync server, the wizard) and the
//! change-detector factory ask the registry, never a list of their own. [`Registry::model_mismatches`] checks
//! the registry against the model: every type not marked unused is served by exactly one provider, and no
//! provider claims a type the model lacks or marks unused.
//!
//! An endpoint that cannot do something says so: a provider whose source type has no change log leaves
//! [`EndpointProvider::build_detector`] at its default, and the registry refuses with
//! [`RegistryError::NoChangeLog`]; a destination that cannot list its entries says so in
//! [`crate::endpoint::Destination::capabilities`].

use std::sync::Arc;

use crate::config::{Config, ConfigObject};
use crate::endpoint::{ChangeDetector, Destination, EntrySource};
use crate::mapping::PipeMapping;
use crate::model::find_type;
use crate::secret::SecretBox;
use crate::store::ServerRoot;

/// The error of an endpoint crate's constructor, whatever its type.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A pipe's source and destination.
pub type Pair = (Arc<dyn EntrySource>, Arc<dyn Destination>);

/// What a provider builds an endpoint from: the configuration, the secrets to reveal its passwords, the server
/// root (relative paths), the pipe, and the sync source's or destination's name and `--type`.
#[derive(Clone, Copy)]
pub struct BuildContext<'a> {
    pub config: &'a Config,
    pub secrets: &'a SecretBox,
    pub root: &'a ServerRoot,
    /// The sync pipe's name.
    pub pipe: &'a str,
    /// The sync source's or destination's name.
    pub name: &'a str,
    /// Its `--type` (a model variant).
    pub variant: &'a str,
}

/// The endpoints of one crate: the model types it serves, and how to build them.
pub trait EndpointProvider: Send + Sync {
    /// The provider's name, for messages and the registry check (`ldap`, `scim`, `pingone`).
    fn name(&self) -> &'static str;

    /// The `create-sync-source --type`s this provider reads.
    fn source_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// The `create-sync-destination --type`s this provider writes.
    fn destination_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// The `create-external-server --type`s that this provider's sources and destinations connect to (their
    /// `server` property).
    fn server_types(&self) -> &'static [&'static str] {
        &[]
    }

    /// The sync source `ctx.name` (of one of [`EndpointProvider::source_types`]), reading what `mapping` needs.
    fn build_source(&self, ctx: &BuildContext, _mapping: &PipeMapping) -> Result<Arc<dyn EntrySource>, BoxError> {
        Err(format!("the {} provider reads no sync source of type '{}'", self.name(), ctx.variant).into())
    }

    /// The sync destination `ctx.name` (of one of [`EndpointProvider::destination_types`]).
    fn build_destination(&self, ctx: &BuildContext, _mapping: &PipeMapping) -> Result<Arc<dyn Destination>, BoxError> {
        Err(format!("the {} provider writes no sync destination of type '{}'", self.name(), ctx.variant).into())
    }

    /// Whether sources of `source_type` have a change log (and [`EndpointProvider::build_detector`] builds its
    /// reader). A provider whose sources have none returns false; real-time sync and `set-startpoint` are then
    /// refused with [`RegistryError::NoChangeLog`].
    fn has_change_log(&self, _source_type: &str) -> bool {
        false
    }

    /// The change detector of the sync source `ctx.name`, when [`EndpointProvider::has_change_log`].
    fn build_detector(&self, ctx: &BuildContext) -> Result<Arc<dyn ChangeDetector>, BoxError> {
        Err(format!("the {} provider reads no change log of sync sources of type '{}'", self.name(), ctx.variant)
            .into())
    }
}

/// Why the registry could not build an endpoint.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// An object the pipe names does not exist.
    #[error("{0}")]
    Missing(String),
    /// No provider serves the type.
    #[error("ferrosync cannot {action} of type '{variant}' ('{name}'){known}")]
    Unsupported { action: &'static str, variant: String, name: String, known: String },
    /// The source's type has no change log to read.
    #[error(
        "the sync source '{name}' is of type '{variant}', which has no change log: real-time sync and \
         realtime-sync set-startpoint need one (resync works)"
    )]
    NoChangeLog { name: String, variant: String },
    /// An endpoint names an external server that its provider cannot connect to (the message says which).
    #[error("{0}")]
    WrongServerType(String),
    /// The provider's constructor failed.
    #[error("cannot set up the {what} '{name}'")]
    Build {
        what: &'static str,
        name: String,
        #[source]
        source: BoxError,
    },
    /// The change detector's constructor failed (its error says what to fix).
    #[error(transparent)]
    Detector(BoxError),
}

/// One end of a pipe, as the registry's messages name it.
#[derive(Clone, Copy)]
struct End {
    type_name: &'static str,
    action: &'static str,
    verb: &'static str,
    what: &'static str,
}

impl End {
    const SOURCE: End =
        End { type_name: "sync-source", action: "read a sync source", verb: "reads", what: "sync source" };
    const DESTINATION: End = End {
        type_name: "sync-destination",
        action: "write to a sync destination",
        verb: "writes",
        what: "sync destination",
    };
}

/// The assembled providers. Built by the tools crate (`ferrosync_tools::endpoints::registry`).
pub struct Registry {
    providers: Vec<&'static dyn EndpointProvider>,
}

fn has(list: &[&str], variant: &str) -> bool {
    list.iter().any(|t| t.eq_ignore_ascii_case(variant))
}

impl Registry {
    pub fn new(providers: Vec<&'static dyn EndpointProvider>) -> Registry {
        Registry { providers }
    }

    pub fn providers(&self) -> &[&'static dyn EndpointProvider] {
        &self.providers
    }

    /// The provider that reads sync sources of type `variant`.
    pub fn source_provider(&self, variant: &str) -> Option<&'static dyn EndpointProvider> {
        self.providers.iter().copied().find(|p| has(p.source_types(), variant))
    }

    /// The provider that writes sync destinations of type `variant`.
    pub fn destination_provider(&self, variant: &str) -> Option<&'static dyn EndpointProvider> {
        self.providers.iter().copied().find(|p| has(p.destination_types(), variant))
    }

    /// The provider that connects to external servers of type `variant`.
    pub fn server_provider(&self, variant: &str) -> Option<&'static dyn EndpointProvider> {
        self.providers.iter().copied().find(|p| has(p.server_types(), variant))
    }

    /// Every type of `kind` that some provider serves, in provider order.
    fn served(&self, kind: &str) -> Vec<&'static str> {
        self.providers
            .iter()
            .flat_map(|p| match kind {
                "sync-source" => p.source_types(),
                "sync-destination" => p.destination_types(),
                _ => p.server_types(),
            })
            .copied()
            .collect()
    }

    /// Whether a sync source of type `variant` has a change log that ferrosync reads.
    pub fn has_change_log(&self, variant: &str) -> bool {
        self.source_provider(variant).is_some_and(|p| p.has_change_log(variant))
    }

    /// The `--type` of the `type_name` object `name`, or why there is none.
    fn object<'c>(
        config: &'c Config,
        type_name: &str,
        name: &str,
        pipe: &str,
    ) -> Result<(&'c ConfigObject, String), RegistryError> {
        let what = type_name.replace('-', " ");
        let o = config
            .get(type_name, name)
            .ok_or_else(|| RegistryError::Missing(format!("the {what} '{name}' of pipe '{pipe}' does not exist")))?;
        Ok((o, o.variant.clone().unwrap_or_default()))
    }

    /// Checks that every external server `object` names is of a type `provider` connects to.
    fn check_servers(
        config: &Config,
        provider: &dyn EndpointProvider,
        what: &'static str,
        object: &ConfigObject,
        variant: &str,
    ) -> Result<(), RegistryError> {
        for server in object.values("server") {
            // A missing server is reported by the endpoint's constructor, in its words.
            let Some(s) = config.get("external-server", server) else { continue };
            let server_type = s.variant.clone().unwrap_or_default();
            if !has(provider.server_types(), &server_type) {
                return Err(RegistryError::WrongServerType(format!(
                    "the external server '{server}' of the {what} '{}' is of type '{server_type}', which a {what} \
                     of type '{variant}' cannot use (use one of: {})",
                    object.name(),
                    provider.server_types().join(", ")
                )));
            }
        }
        Ok(())
    }

    fn pipe_endpoint<'c>(config: &'c Config, pipe: &str, prop: &str) -> Result<&'c str, RegistryError> {
        let p = config
            .get("sync-pipe", pipe)
            .ok_or_else(|| RegistryError::Missing(format!("there is no sync pipe '{pipe}'")))?;
        Ok(p.first(prop).unwrap_or_default())
    }

    /// Finds pipe `pipe`'s endpoint of `end`, its provider, checks its servers, and builds it with `build`.
    fn build_end<T>(
        &self,
        end: End,
        (config, secrets, root): (&Config, &SecretBox, &ServerRoot),
        pipe: &str,
        build: impl FnOnce(&dyn EndpointProvider, &BuildContext) -> Result<T, BoxError>,
    ) -> Result<T, RegistryError> {
        let name = Self::pipe_endpoint(config, pipe, end.type_name)?;
        let (object, variant) = Self::object(config, end.type_name, name, pipe)?;
        let provider = match end.type_name {
            "sync-source" => self.source_provider(&variant),
            _ => self.destination_provider(&variant),
        };
        let provider = provider.ok_or_else(|| RegistryError::Unsupported {
            action: end.action,
            variant: variant.clone(),
            name: name.to_string(),
            known: format!(" (it {} {})", end.verb, self.served(end.type_name).join(", ")),
        })?;
        Self::check_servers(config, provider, end.what, object, &variant)?;
        let ctx = BuildContext { config, secrets, root, pipe, name, variant: &variant };
        build(provider, &ctx).map_err(|source| RegistryError::Build { what: end.what, name: name.to_string(), source })
    }

    /// The source of pipe `pipe`, connected lazily (the first operation connects).
    pub fn build_source(
        &self,
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        mapping: &PipeMapping,
    ) -> Result<Arc<dyn EntrySource>, RegistryError> {
        self.build_end(End::SOURCE, (config, secrets, root), pipe, |p, ctx| p.build_source(ctx, mapping))
    }

    /// The destination of pipe `pipe`, connected lazily.
    pub fn build_destination(
        &self,
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        mapping: &PipeMapping,
    ) -> Result<Arc<dyn Destination>, RegistryError> {
        self.build_end(End::DESTINATION, (config, secrets, root), pipe, |p, ctx| p.build_destination(ctx, mapping))
    }

    /// The source and destination of pipe `pipe`.
    pub fn build_pair(
        &self,
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        mapping: &PipeMapping,
    ) -> Result<Pair, RegistryError> {
        let source = self.build_source(config, secrets, root, pipe, mapping)?;
        let destination = self.build_destination(config, secrets, root, pipe, mapping)?;
        Ok((source, destination))
    }

    /// The change detector of the sync source `source` of pipe `pipe`, by the source's `--type`.
    pub fn build_detector(
        &self,
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        source: &str,
    ) -> Result<Arc<dyn ChangeDetector>, RegistryError> {
        let (object, variant) = Self::object(config, "sync-source", source, pipe)?;
        let provider = self.source_provider(&variant).ok_or_else(|| RegistryError::Unsupported {
            action: "read the changes of a sync source",
            variant: variant.clone(),
            name: source.to_string(),
            known: format!(" (it reads {})", self.served("sync-source").join(", ")),
        })?;
        if !provider.has_change_log(&variant) {
            return Err(RegistryError::NoChangeLog { name: source.to_string(), variant });
        }
        Self::check_servers(config, provider, "sync source", object, &variant)?;
        let ctx = BuildContext { config, secrets, root, pipe, name: source, variant: &variant };
        provider.build_detector(&ctx).map_err(RegistryError::Detector)
    }

    /// Where the registry and the model disagree, one line each (empty when they agree): a sync-source,
    /// sync-destination or external-server type not marked unused that no provider (or more than one) serves,
    /// and a type a provider claims that the model lacks or marks unused. External servers count only as far
    /// as the endpoints need them (a type no provider connects to must be marked unused).
    pub fn model_mismatches(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for type_name in ["sync-source", "sync-destination", "external-server"] {
            let Some(t) = find_type(type_name) else {
                problems.push(format!("the model has no type '{type_name}'"));
                continue;
            };
            let claims = |p: &dyn EndpointProvider| -> &'static [&'static str] {
                match type_name {
                    "sync-source" => p.source_types(),
                    "sync-destination" => p.destination_types(),
                    _ => p.server_types(),
                }
            };
            for v in t.variants.iter().filter(|v| !v.unused) {
                let serving: Vec<&str> =
                    self.providers.iter().filter(|p| has(claims(**p), v.name)).map(|p| p.name()).collect();
                match serving.len() {
                    1 => {}
                    0 => problems.push(format!("no provider serves {type_name} --type {}", v.name)),
                    _ => problems.push(format!("{type_name} --type {} is served by {}", v.name, serving.join(" and "))),
                }
            }
            for p in &self.providers {
                for claimed in claims(*p) {
                    match t.variant(claimed) {
                        None => problems.push(format!(
                            "the {} provider serves {type_name} --type {claimed}, which the model lacks",
                            p.name()
                        )),
                        Some(v) if v.unused => problems.push(format!(
                            "the {} provider serves {type_name} --type {claimed}, which the model marks unused",
                            p.name()
                        )),
                        Some(_) => {}
                    }
                }
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigObject;

    struct ChangeLess;
    impl EndpointProvider for ChangeLess {
        fn name(&self) -> &'static str {
            "changeless"
        }
        fn source_types(&self) -> &'static [&'static str] {
            &["generic-ldap"]
        }
        fn destination_types(&self) -> &'static [&'static str] {
            &["kafka"]
        }
        fn server_types(&self) -> &'static [&'static str] {
            &["generic-ldap", "no-such-server"]
        }
    }
    static CHANGELESS: ChangeLess = ChangeLess;

    fn object(type_name: &str, name: &str, variant: Option<&str>, props: &[(&str, &str)]) -> ConfigObject {
        let t = find_type(type_name).unwrap_or_else(|| panic!("no type {type_name}"));
        let mut o = ConfigObject::new(t, vec![name.to_string()], variant.map(str::to_string));
        for (k, v) in props {
            o.props.entry(k.to_string()).or_default().push(v.to_string());
        }
        o
    }

    fn config() -> Config {
        Config::from_objects(vec![
            object("external-server", "web", Some("scim2"), &[("scim-service-url", "https://h/scim/v2")]),
            object("external-server", "ds", Some("generic-ldap"), &[("server-host-name", "h")]),
            object("sync-source", "src", Some("generic-ldap"), &[("server", "ds")]),
            object("sync-destination", "dst", Some("generic-ldap"), &[("server", "ds")]),
            object("sync-destination", "web-dst", Some("kafka"), &[("server", "web")]),
            object("sync-pipe", "p", None, &[("sync-source", "src"), ("sync-destination", "dst")]),
            object("sync-pipe", "to-web", None, &[("sync-source", "src"), ("sync-destination", "web-dst")]),
        ])
    }

    fn env() -> (tempfile::TempDir, ServerRoot, SecretBox) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = ServerRoot::new(dir.path());
        let secrets = SecretBox::new(root.key_path());
        (dir, root, secrets)
    }

    #[test]
    fn a_source_without_a_change_log_is_refused_naming_it_and_its_type() {
        let registry = Registry::new(vec![&CHANGELESS]);
        let (_dir, root, secrets) = env();
        let err = registry.build_detector(&config(), &secrets, &root, "p", "src").err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "the sync source 'src' is of type 'generic-ldap', which has no change log: real-time sync and \
                 realtime-sync set-startpoint need one (resync works)"
            )
        );
        assert!(!registry.has_change_log("generic-ldap"));
    }

    #[test]
    fn a_type_no_provider_serves_is_refused_with_what_is_served() {
        let registry = Registry::new(vec![&CHANGELESS]);
        let (_dir, root, secrets) = env();
        let config = config();
        let mapping = PipeMapping::from_config(&config, "p").unwrap_or_else(|e| panic!("{e}"));
        let err = registry.build_destination(&config, &secrets, &root, "p", &mapping).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("ferrosync cannot write to a sync destination of type 'generic-ldap' ('dst') (it writes kafka)")
        );
    }

    #[test]
    fn an_endpoint_on_a_server_of_another_kind_is_refused() {
        let registry = Registry::new(vec![&CHANGELESS]);
        let (_dir, root, secrets) = env();
        let config = config();
        let mapping = PipeMapping::from_config(&config, "to-web").unwrap_or_else(|e| panic!("{e}"));
        let err = registry.build_destination(&config, &secrets, &root, "to-web", &mapping).err().map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "the external server 'web' of the sync destination 'web-dst' is of type 'scim2', which a sync \
                 destination of type 'kafka' cannot use (use one of: generic-ldap, no-such-server)"
            )
        );
    }

    #[test]
    fn the_model_check_finds_missing_doubled_unknown_and_unused_types() {
        let problems = Registry::new(vec![&CHANGELESS, &CHANGELESS]).model_mismatches();
        let has = |s: &str| problems.iter().any(|p| p == s);
        assert!(has("no provider serves sync-source --type openldap"), "{problems:#?}");
        assert!(has("sync-source --type generic-ldap is served by changeless and changeless"), "{problems:#?}");
        assert!(
            has("the changeless provider serves sync-destination --type kafka, which the model marks unused"),
            "{problems:#?}"
        );
        assert!(
            has("the changeless provider serves external-server --type no-such-server, which the model lacks"),
            "{problems:#?}"
        );
    }
}
