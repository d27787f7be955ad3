//! SCIM 2.0 attribute and endpoint mappings, and HTTP authorization methods.

use std::time::Duration;

use super::server::HostnameVerification;
use super::{Reader, SecretSetting, SettingsError};

crate::choice! {
    /// `attribute-usage` of a SCIM 2.0 attribute mapping.
    pub enum AttributeUsage {
        Fetch = "fetch",
        CreateDuringRealtimeSync = "create-during-realtime-sync",
        CreateDuringResync = "create-during-resync",
        UpdateDuringRealtimeSync = "update-during-realtime-sync",
        UpdateDuringResync = "update-during-resync",
    }
}

crate::choice! {
    /// `failed-mapping-behavior`: what happens when a value cannot be mapped to its SCIM type.
    pub enum FailedMappingBehavior { FailOperation = "fail-operation", Ignore = "ignore", LogWarning = "log-warning" }
}

crate::choice! {
    /// `data-type` of a static-value mapping.
    pub enum StaticDataType { String = "string", Boolean = "boolean", Number = "number", Json = "json" }
}

/// What a SCIM 2.0 attribute mapping maps, by its `--type`.
#[derive(Clone, Debug)]
pub enum Scim2MappingKind {
    String { ldap_attribute: String, default_value: Option<String> },
    Boolean { ldap_attribute: String, invert_value: bool, default_value: Option<String> },
    DateTime { ldap_attribute: String },
    Number { ldap_attribute: String },
    ComposedComplex { sub_attribute_mappings: Vec<String>, encapsulate_value_in_array: bool },
    JsonFormattedComplex { ldap_attribute: String },
    StaticValue { data_type: StaticDataType, value: String },
}

/// A `scim2-attribute-mapping`.
#[derive(Clone, Debug)]
pub struct Scim2AttributeMappingSettings {
    pub name: String,
    pub label: String,
    pub scim_attribute_name: String,
    pub attribute_usage: Vec<AttributeUsage>,
    pub always_patch_with_replace: bool,
    pub single_valued: bool,
    pub kind: Scim2MappingKind,
}

impl Scim2AttributeMappingSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let ldap = || r.required_text("ldap-attribute-name");
        let variant = r.variant().unwrap_or("string");
        let kind = match variant {
            "string" => Scim2MappingKind::String { ldap_attribute: ldap()?, default_value: r.text("default-value")? },
            "boolean" => Scim2MappingKind::Boolean {
                ldap_attribute: ldap()?,
                invert_value: r.flag("invert-value")?,
                default_value: r.text("default-value")?,
            },
            "date-time" => Scim2MappingKind::DateTime { ldap_attribute: ldap()? },
            "number" => Scim2MappingKind::Number { ldap_attribute: ldap()? },
            "json-formatted-complex" => Scim2MappingKind::JsonFormattedComplex { ldap_attribute: ldap()? },
            "composed-complex" => Scim2MappingKind::ComposedComplex {
                sub_attribute_mappings: r.texts("sub-attribute-mapping")?,
                encapsulate_value_in_array: r.flag("encapsulate-value-in-array")?,
            },
            "static-value" => Scim2MappingKind::StaticValue {
                data_type: r.required_choice("data-type")?,
                value: r.required_text("value")?,
            },
            other => {
                return Err(SettingsError::Invalid {
                    object: r.label(),
                    reason: format!("it has type {other}, which ferrosync cannot use"),
                })
            }
        };
        Ok(Scim2AttributeMappingSettings {
            name: r.name().to_string(),
            label: r.label(),
            scim_attribute_name: r.required_text("scim-attribute-name")?,
            attribute_usage: r.choices("attribute-usage")?,
            always_patch_with_replace: r.flag("always-patch-with-replace")?,
            single_valued: if r.declares("single-valued") { r.flag("single-valued")? } else { false },
            kind,
        })
    }

    /// The settings of the SCIM 2.0 attribute mapping `name`.
    pub fn of(config: &crate::config::Config, name: &str) -> Result<Self, SettingsError> {
        Self::read(&Reader::new(super::lookup(config, "scim2-attribute-mapping", name)?))
    }
}

/// A `scim2-endpoint-mapping`.
#[derive(Clone, Debug)]
pub struct Scim2EndpointMappingSettings {
    pub name: String,
    pub label: String,
    /// Without leading or trailing `/`.
    pub endpoint_path: String,
    pub schema_urns: Vec<String>,
    pub attribute_mappings: Vec<String>,
    pub search_attribute_mappings: Vec<String>,
    pub sync_class_name: Option<String>,
}

impl Scim2EndpointMappingSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        Ok(Scim2EndpointMappingSettings {
            name: r.name().to_string(),
            label: r.label(),
            endpoint_path: r.required_text("endpoint-path")?.trim_matches('/').to_string(),
            schema_urns: r.texts("schema-urn")?,
            attribute_mappings: r.texts("attribute-mapping")?,
            search_attribute_mappings: r.texts("search-attribute-mapping")?,
            sync_class_name: r.text("sync-class-name")?,
        })
    }

    /// The settings of the SCIM 2.0 endpoint mapping `name`.
    pub fn of(config: &crate::config::Config, name: &str) -> Result<Self, SettingsError> {
        Self::read(&Reader::new(super::lookup(config, "scim2-endpoint-mapping", name)?))
    }
}

crate::choice! {
    /// `credentials-submission-method` of an OAuth client-credentials grant.
    pub enum CredentialsSubmission { BasicAuthorization = "basic-authorization", RequestBody = "request-body" }
}

crate::choice! {
    /// `request-method` of a token request.
    pub enum TokenRequestMethod { Get = "get", Post = "post" }
}

/// How HTTP requests are authorized, by the method's `--type`.
#[derive(Clone, Debug)]
pub enum HttpAuthKind {
    ClientCredentials {
        token_endpoint_url: String,
        client_id: String,
        client_secret: SecretSetting,
        scopes: Vec<String>,
        credentials_submission: CredentialsSubmission,
        request_method: TokenRequestMethod,
        maximum_token_lifetime: Option<Duration>,
        /// For the token endpoint.
        hostname_verification: HostnameVerification,
        /// For the token endpoint; the SCIM server's when unset.
        trust_manager_provider: Option<String>,
    },
    StaticBearer {
        token: SecretSetting,
    },
    Basic {
        username: String,
        password: SecretSetting,
    },
}

/// An `http-authorization-method`.
#[derive(Clone, Debug)]
pub struct HttpAuthSettings {
    pub name: String,
    pub label: String,
    pub enabled: bool,
    pub kind: HttpAuthKind,
}

impl HttpAuthSettings {
    pub fn read(r: &Reader) -> Result<Self, SettingsError> {
        let kind = match r.variant().unwrap_or("") {
            "client-credentials-bearer-token" => HttpAuthKind::ClientCredentials {
                token_endpoint_url: r.required_text("oauth-server-token-endpoint-url")?,
                client_id: r.required_text("oauth-client-id")?,
                client_secret: r.secret("oauth-client-secret", Some("oauth-client-secret-passphrase-provider"))?,
                scopes: r.texts("oauth-scope")?,
                credentials_submission: r.required_choice("credentials-submission-method")?,
                request_method: r.required_choice("request-method")?,
                maximum_token_lifetime: r.duration("maximum-token-lifetime")?,
                hostname_verification: r.required_choice("hostname-verification-method")?,
                trust_manager_provider: r.text("trust-manager-provider")?,
            },
            "static-bearer-token" => HttpAuthKind::StaticBearer { token: r.secret("bearer-token", None)? },
            "basic" => {
                HttpAuthKind::Basic { username: r.required_text("username")?, password: r.secret("password", None)? }
            }
            other => {
                return Err(SettingsError::Invalid {
                    object: r.label(),
                    reason: format!("it has type {other}, which ferrosync cannot use"),
                })
            }
        };
        Ok(HttpAuthSettings { name: r.name().to_string(), label: r.label(), enabled: r.flag("enabled")?, kind })
    }

    pub fn of(config: &crate::config::Config, name: &str) -> Result<Self, SettingsError> {
        HttpAuthSettings::read(&Reader::new(super::lookup(config, "http-authorization-method", name)?))
    }
}
