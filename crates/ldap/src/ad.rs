//! The Active Directory sync destination: an [`LdapDestination`] that knows AD's rules for accounts.
//!
//! * Passwords: a clear-text `userPassword` or `unicodePwd` of the mapped entry (or of a modify) is written
//!   as `unicodePwd`, the UTF-16LE of the quoted password, by replace (an administrator's reset). Password
//!   hashes (`{SSHA}...`, which an LDAP source holds) cannot be used by AD and are left out. With
//!   `require-secure-connection-for-clear-text-passwords` (on by default) a password is only sent when every
//!   server of the destination is reached over LDAPS or StartTLS; otherwise the operation is refused and the
//!   error says why. Password values never appear in errors.
//! * Users (`objectClass: user`) are created disabled (`userAccountControl` with ACCOUNTDISABLE), their password
//!   set, and then given the mapped `userAccountControl`: AD refuses to enable an account that has no password
//!   meeting its policy.
//! * Renames delete the old RDN value (AD refuses to keep it).
//! * Correlation on `objectGUID` accepts AD's GUID string form and compares the binary value.

use async_trait::async_trait;
use ferrosync::config::Config;
use ferrosync::endpoint::{Correlated, Destination, EndpointError, EndpointResult, Modification as CoreMod};
use ferrosync::entry::{Entry, Value};
use ferrosync::secret::SecretBox;
use ferrosync::store::ServerRoot;
use tokio::sync::mpsc;

use crate::detector::is_hashed_password;
use crate::endpoint::{endpoint_error, LdapDestination};
use crate::Modification;

/// `userAccountControl` bit: the account is disabled.
pub const UF_ACCOUNTDISABLE: u32 = 0x0002;
/// `userAccountControl` of an enabled normal account.
pub const UF_NORMAL_ACCOUNT: u32 = 0x0200;

const PASSWORD_ATTRIBUTES: &[&str] = &["unicodePwd", "userPassword"];

/// The `unicodePwd` value of a password: the UTF-16LE bytes of the password in double quotes.
pub fn unicode_pwd(password: &str) -> Vec<u8> {
    format!("\"{password}\"").encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn is_password_attribute(a: &str) -> bool {
    let base = a.split(';').next().unwrap_or(a);
    PASSWORD_ATTRIBUTES.iter().any(|p| p.eq_ignore_ascii_case(base))
}

/// A clear-text password among `values`: the first text value that is not a stored hash.
fn clear_text(values: &[Value]) -> Option<String> {
    values.iter().find_map(|v| match v {
        Value::Text(t) if !t.is_empty() && !is_hashed_password(t) => Some(t.clone()),
        // A unicodePwd value an AD-to-AD mapping may carry: already UTF-16LE and quoted.
        Value::Binary(b) => {
            let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
            let s = String::from_utf16(&units).ok()?;
            let inner = s.strip_prefix('"').and_then(|s| s.strip_suffix('"')).map(str::to_string);
            inner.or_else(|| std::str::from_utf8(b).ok().filter(|t| !is_hashed_password(t)).map(str::to_string))
        }
        _ => None,
    })
}

/// A destination in Active Directory.
pub struct AdDestination {
    inner: LdapDestination,
    /// Every server is reached over LDAPS or StartTLS.
    encrypted: bool,
    /// `require-secure-connection-for-clear-text-passwords`.
    require_secure: bool,
}

impl AdDestination {
    pub fn new(inner: LdapDestination, encrypted: bool, require_secure: bool) -> Self {
        AdDestination { inner, encrypted, require_secure }
    }

    pub fn from_config(
        config: &Config,
        secrets: &SecretBox,
        root: &ServerRoot,
        pipe: &str,
        destination: &str,
    ) -> Result<AdDestination, EndpointError> {
        let inner = LdapDestination::from_config(config, secrets, root, pipe, destination)?;
        let d = ferrosync::settings::LdapDestinationSettings::of(config, destination)
            .map_err(|e| EndpointError::Config(e.to_string()))?;
        let encrypted = d.endpoint.servers.iter().all(|s| {
            ferrosync::settings::LdapServerSettings::of(config, s).is_ok_and(|s| s.connection_security.is_encrypted())
        });
        let require_secure = d.require_secure_connection_for_clear_text_passwords;
        Ok(AdDestination::new(inner, encrypted, require_secure))
    }

    /// Refuses to send a password over plain LDAP when the destination requires encryption.
    fn check_secure(&self, dn: &str) -> EndpointResult<()> {
        if self.require_secure && !self.encrypted {
            return Err(EndpointError::Rejected(format!(
                "the password of {dn} was not sent to Active Directory: the connection is not encrypted, and \
                 require-secure-connection-for-clear-text-passwords is on (clear-text passwords go over LDAPS or \
                 StartTLS only; Active Directory itself refuses unicodePwd over plain LDAP). Set \
                 connection-security:ssl or start-tls on the destination's external servers"
            )));
        }
        Ok(())
    }

    fn password_mod(password: &str) -> Modification {
        Modification::Replace("unicodePwd".into(), vec![Value::Binary(unicode_pwd(password))])
    }

    async fn modify_raw(&self, dn: &str, mods: &[Modification]) -> EndpointResult<()> {
        self.inner.client().modify(dn, mods).await.map_err(endpoint_error)
    }
}

fn is_user(entry: &Entry) -> bool {
    entry.values("objectClass").iter().any(|v| {
        let t = v.as_text();
        t.eq_ignore_ascii_case("user") || t.eq_ignore_ascii_case("inetOrgPerson")
    })
}

#[async_trait]
impl Destination for AdDestination {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn check(&self) -> EndpointResult<()> {
        self.inner.check().await
    }

    async fn correlate(&self, mapped: &Entry, lists: &[Vec<String>], attrs: &[String]) -> EndpointResult<Correlated> {
        let mut mapped = mapped.clone();
        let guid: Vec<Value> = mapped
            .values("objectGUID")
            .iter()
            .map(|v| match v {
                Value::Text(t) => {
                    crate::dirsync::guid_from_string(t).map(|b| Value::Binary(b.to_vec())).unwrap_or_else(|| v.clone())
                }
                other => other.clone(),
            })
            .collect();
        if !guid.is_empty() {
            mapped.set("objectGUID", guid);
        }
        self.inner.correlate(&mapped, lists, attrs).await
    }

    async fn fetch(&self, id: &str, attrs: &[String]) -> EndpointResult<Option<Entry>> {
        self.inner.fetch(id, attrs).await
    }

    async fn create(&self, entry: &Entry) -> EndpointResult<()> {
        let mut entry = entry.clone();
        let mut password = None;
        for a in PASSWORD_ATTRIBUTES {
            if let Some(attr) = entry.remove(a) {
                password = password.or_else(|| clear_text(&attr.values));
            }
        }
        if password.is_some() {
            self.check_secure(&entry.dn)?;
        }
        if !is_user(&entry) {
            return self.inner.create(&entry).await;
        }
        // Created disabled; enabled (the mapped userAccountControl) once the password is set.
        let wanted: Option<u32> = entry.first_text("userAccountControl").and_then(|v| v.trim().parse().ok());
        let disabled = wanted.unwrap_or(UF_NORMAL_ACCOUNT) | UF_ACCOUNTDISABLE;
        entry.set("userAccountControl", vec![Value::Text(disabled.to_string())]);
        self.inner.create(&entry).await?;
        if let Some(pw) = &password {
            self.modify_raw(&entry.dn, &[Self::password_mod(pw)]).await.map_err(|e| {
                EndpointError::Rejected(format!("{} was created disabled, but its password was refused: {e}", entry.dn))
            })?;
        }
        if let Some(w) = wanted.filter(|w| w & UF_ACCOUNTDISABLE == 0) {
            let m = Modification::Replace("userAccountControl".into(), vec![Value::Text(w.to_string())]);
            self.modify_raw(&entry.dn, &[m]).await.map_err(|e| {
                EndpointError::Rejected(format!(
                    "{} was created disabled and could not be enabled{}: {e}",
                    entry.dn,
                    if password.is_none() { " (it has no password)" } else { "" }
                ))
            })?;
        }
        Ok(())
    }

    async fn modify(&self, id: &str, mods: &[CoreMod]) -> EndpointResult<()> {
        let mut password = None;
        let mut rest = Vec::new();
        for m in mods {
            match m {
                CoreMod::Add(a, v) | CoreMod::Replace(a, v) if is_password_attribute(a) => {
                    password = password.or_else(|| clear_text(v));
                }
                // A password cannot be removed in AD, and a hash cannot be written: nothing to send.
                CoreMod::Delete(a, _) if is_password_attribute(a) => {}
                other => rest.push(other.clone()),
            }
        }
        if let Some(pw) = &password {
            self.check_secure(id)?;
            // The password first: an account being enabled in the same change needs it.
            self.modify_raw(id, &[Self::password_mod(pw)]).await?;
        }
        if rest.is_empty() {
            return Ok(());
        }
        self.inner.modify(id, &rest).await
    }

    /// AD refuses to keep the old RDN value (`00002035: Old RDN must be deleted`): it is always deleted.
    async fn rename(&self, id: &str, new_dn: &str) -> EndpointResult<String> {
        self.inner.rename_entry(id, new_dn, true).await
    }

    async fn delete(&self, id: &str) -> EndpointResult<()> {
        self.inner.delete(id).await
    }

    async fn stream(&self, attrs: &[String], tx: mpsc::Sender<EndpointResult<Entry>>) -> EndpointResult<()> {
        self.inner.stream(attrs, tx).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unicode_pwd_is_quoted_utf16le() {
        assert_eq!(unicode_pwd("ab"), [0x22, 0, b'a', 0, b'b', 0, 0x22, 0]);
        assert_eq!(unicode_pwd("é"), [0x22, 0, 0xe9, 0, 0x22, 0]);
        assert_eq!(clear_text(&[Value::Binary(unicode_pwd("Pw1!"))]).as_deref(), Some("Pw1!"));
    }

    #[test]
    fn hashes_are_not_passwords() {
        assert_eq!(clear_text(&[Value::from("{SSHA}abc")]), None);
        assert_eq!(clear_text(&[Value::from("{SSHA}abc"), Value::from("Secret1!")]).as_deref(), Some("Secret1!"));
        assert!(is_password_attribute("userPassword") && is_password_attribute("UNICODEPWD"));
        assert!(!is_password_attribute("description"));
    }
}
