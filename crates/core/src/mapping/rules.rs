//! Attribute kinds the mapping layer must know without a schema: which attributes are operational (never
//! auto-mapped, never deleted by a diff unless a mapping names them), and which matching rule compares the
//! values of an attribute.

use std::fmt::Write as _;

use crate::entry::Value;

/// Attributes that the servers maintain themselves (or that only a server may write). `-all-` never maps
/// them and a diff never deletes them; a sync class can still map one explicitly (an attribute mapping named
/// after it, or its name in an explicit `auto-mapped-source-attribute` list). Names compare without case and
/// without options (`pwdHistory;x` is `pwdHistory`).
///
/// * LDAP (RFC 4512, RFC 3045, RFC 4530): `createTimestamp`, `modifyTimestamp`, `creatorsName`,
///   `modifiersName`, `entryUUID`, `entryDN`, `subschemaSubentry`, `hasSubordinates`, `numSubordinates`,
///   `structuralObjectClass`, `governingStructureRule`.
/// * OpenLDAP: `entryCSN`, `contextCSN`; ppolicy state `pwdChangedTime`, `pwdFailureTime`, `pwdHistory`,
///   `pwdGraceUseTime`, `pwdReset`, `pwdAccountLockedTime` (operational in OpenLDAP: read only when named, so mapping it explicitly
///   makes the engine fetch it and remove it on unlock).
/// * 389 DS: `entryid`, `parentid`, `nsUniqueId`, `nsds5ReplConflict`, `nscpEntryDN`, `nsTombstoneCSN`,
///   `nsParentUniqueId`, `nsRole`.
/// * PingDirectory: `ds-sync-hist`, `ds-sync-state`, `ds-entry-unique-id`, `ds-create-time`, `ds-update-time`,
///   `ds-pwp-account-disabled` (password policy state: mapped only explicitly; an LDAP destination that is not a
///   PingDirectory expresses it through its own account lock, see `ferrosync_ldap::adstate`).
/// * Group membership computed by the server: `memberOf`, `isMemberOf`. Access control: `aci`.
/// * Active Directory: `objectGUID`, `objectSid`, `whenCreated`, `whenChanged`, `uSNCreated`, `uSNChanged`,
///   `instanceType`, `distinguishedName`, `objectCategory`, `dSCorePropagationData`, `nTSecurityDescriptor`,
///   `sAMAccountType`, `lastLogon`, `lastLogonTimestamp`, `logonCount`, `badPwdCount`, `badPasswordTime`,
///   `pwdLastSet` (writable only as 0 or -1, so it is mapped only explicitly), `isDeleted`, `isRecycled`,
///   `lastKnownParent`, `replPropertyMetaData`, `name` (AD's copy of the RDN value), `systemFlags`.
///
/// `nsAccountLock` is deliberately absent: it is user-modifiable and often synchronized.
pub const OPERATIONAL_ATTRIBUTES: &[&str] = &[
    // LDAP standard operational attributes.
    "createTimestamp",
    "modifyTimestamp",
    "creatorsName",
    "modifiersName",
    "entryUUID",
    "entryDN",
    "subschemaSubentry",
    "hasSubordinates",
    "numSubordinates",
    "structuralObjectClass",
    "governingStructureRule",
    // OpenLDAP.
    "entryCSN",
    "contextCSN",
    "pwdChangedTime",
    "pwdAccountLockedTime",
    "pwdFailureTime",
    "pwdHistory",
    "pwdGraceUseTime",
    "pwdReset",
    // 389 Directory Server.
    "entryid",
    "parentid",
    "nsUniqueId",
    "nsds5ReplConflict",
    "nscpEntryDN",
    "nsTombstoneCSN",
    "nsParentUniqueId",
    "nsRole",
    // PingDirectory.
    "ds-sync-hist",
    "ds-sync-state",
    "ds-entry-unique-id",
    "ds-create-time",
    "ds-update-time",
    "ds-pwp-account-disabled",
    // Computed membership and access control.
    "memberOf",
    "isMemberOf",
    "aci",
    // Active Directory.
    "objectGUID",
    "objectSid",
    "whenCreated",
    "whenChanged",
    "uSNCreated",
    "uSNChanged",
    "instanceType",
    "distinguishedName",
    "objectCategory",
    "dSCorePropagationData",
    "nTSecurityDescriptor",
    "sAMAccountType",
    "lastLogon",
    "lastLogonTimestamp",
    "logonCount",
    "badPwdCount",
    "badPasswordTime",
    "pwdLastSet",
    "isDeleted",
    "isRecycled",
    "lastKnownParent",
    "replPropertyMetaData",
    "name",
    "systemFlags",
];

/// The intermediate attributes of an Active Directory source (PingDataSync's names): computed in memory from
/// `lockoutTime`, `userAccountControl` (or AD LDS's `msDS-UserAccountDisabled`) and `pwdLastSet`, offered to
/// attribute mappings, never auto-mapped (no destination has them).
pub const INTERMEDIATE_ATTRIBUTES: &[&str] =
    &["pwdAccountLockedTimeFromAD", "ds-pwp-account-disabled-from-ad", "pwdChangedTimeFromAD"];

/// Whether `attr` is one of the [`INTERMEDIATE_ATTRIBUTES`].
pub fn is_intermediate(attr: &str) -> bool {
    let base = base_name(attr);
    INTERMEDIATE_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(base))
}

/// Attributes whose values are DNs, compared by normalized DN. Attributes produced by a `dn` attribute
/// mapping are compared that way too.
pub const DN_ATTRIBUTES: &[&str] = &[
    "member",
    "uniqueMember",
    "manager",
    "owner",
    "seeAlso",
    "secretary",
    "roleOccupant",
    "memberOf",
    "isMemberOf",
    "managedBy",
    "directReports",
    "distinguishedName",
    "entryDN",
    "creatorsName",
    "modifiersName",
];

/// Attributes whose values compare byte for byte (passwords: a case change is a new password).
pub const CASE_EXACT_ATTRIBUTES: &[&str] = &["userPassword", "unicodePwd", "authPassword"];

/// The attribute name without options: `cn;lang-en` gives `cn`.
pub fn base_name(attr: &str) -> &str {
    attr.split(';').next().unwrap_or(attr).trim()
}

/// Whether `a` names attribute `attr`: the same name (any case), or `attr` with options added.
pub(crate) fn names_attribute(a: &str, attr: &str) -> bool {
    a.eq_ignore_ascii_case(attr) || a.eq_ignore_ascii_case(base_name(attr))
}

/// Whether `attr` is an operational attribute (see [`OPERATIONAL_ATTRIBUTES`]).
pub fn is_operational(attr: &str) -> bool {
    let base = base_name(attr);
    OPERATIONAL_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(base))
}

/// Whether `attr` is the entry's DN rather than a stored attribute (`dn`, `entryDN`).
pub(crate) fn is_dn_pseudo_attribute(attr: &str) -> bool {
    let base = base_name(attr);
    base.eq_ignore_ascii_case("dn") || base.eq_ignore_ascii_case("entryDN")
}

/// How the values of an attribute are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchingRule {
    /// Case-insensitive, leading and trailing spaces ignored, inner runs of spaces collapsed; JSON objects and
    /// arrays compare as JSON (field order ignored).
    CaseIgnore,
    /// Byte for byte.
    CaseExact,
    /// By normalized DN (values that are not DNs fall back to [`MatchingRule::CaseIgnore`]).
    DistinguishedName,
}

impl MatchingRule {
    /// The rule of an attribute by its name alone: DN syntax for [`DN_ATTRIBUTES`], exact for
    /// [`CASE_EXACT_ATTRIBUTES`], case-insensitive otherwise.
    pub fn for_attribute(attr: &str) -> MatchingRule {
        let base = base_name(attr);
        if DN_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(base)) {
            MatchingRule::DistinguishedName
        } else if CASE_EXACT_ATTRIBUTES.iter().any(|a| a.eq_ignore_ascii_case(base)) {
            MatchingRule::CaseExact
        } else {
            MatchingRule::CaseIgnore
        }
    }

    /// The comparison key of a value: two values are equal under the rule when their keys are. Binary
    /// values (that are not UTF-8) always compare byte for byte.
    pub fn key(self, value: &Value) -> Vec<u8> {
        const EXACT: u8 = 0;
        const FOLDED: u8 = 1;
        const DN: u8 = 2;
        const JSON: u8 = 3;
        let tagged = |tag: u8, body: &[u8]| {
            let mut k = Vec::with_capacity(body.len() + 1);
            k.push(tag);
            k.extend_from_slice(body);
            k
        };
        let text: std::borrow::Cow<'_, str> = match value {
            Value::Binary(b) => match std::str::from_utf8(b) {
                Ok(s) => std::borrow::Cow::Borrowed(s),
                Err(_) => return tagged(EXACT, b),
            },
            Value::Json(serde_json::Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
            Value::Json(j) => return tagged(JSON, canonical_json(j).as_bytes()),
            Value::Text(s) => std::borrow::Cow::Borrowed(s.as_str()),
        };
        match self {
            MatchingRule::CaseExact => tagged(EXACT, text.as_bytes()),
            MatchingRule::DistinguishedName => match crate::syntax::Dn::parse(&text) {
                Ok(dn) => tagged(DN, dn.normalized().as_bytes()),
                Err(_) => tagged(FOLDED, fold(&text).as_bytes()),
            },
            MatchingRule::CaseIgnore => {
                let t = text.trim_start();
                if t.starts_with('{') || t.starts_with('[') {
                    if let Ok(j) = serde_json::from_str::<serde_json::Value>(t) {
                        return tagged(JSON, canonical_json(&j).as_bytes());
                    }
                }
                tagged(FOLDED, fold(&text).as_bytes())
            }
        }
    }

    /// Whether two values are equal under the rule.
    pub fn equals(self, a: &Value, b: &Value) -> bool {
        self.key(a) == self.key(b)
    }
}

/// Trimmed, inner whitespace runs collapsed to one space, lower-cased.
fn fold(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase()
}

/// JSON text with object fields in sorted order, so that field order does not matter.
fn canonical_json(j: &serde_json::Value) -> String {
    let mut out = String::new();
    write_canonical(j, &mut out);
    out
}

fn write_canonical(j: &serde_json::Value, out: &mut String) {
    match j {
        serde_json::Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", serde_json::Value::String((*k).clone()));
                if let Some(v) = map.get(*k) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        serde_json::Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(v, out);
            }
            out.push(']');
        }
        other => {
            let _ = write!(out, "{other}");
        }
    }
}

/// Removes values equal (under `rule`) to an earlier one, keeping the first of each.
pub(crate) fn dedupe(rule: MatchingRule, values: Vec<Value>) -> Vec<Value> {
    let mut values = values;
    dedupe_in_place(rule, &mut values);
    values
}

/// Keeps the first of values equal under `rule`. Most attributes hold one value, and few hold many: those
/// need no key at all, and small lists compare keys pairwise instead of hashing them.
pub(crate) fn dedupe_in_place(rule: MatchingRule, values: &mut Vec<Value>) {
    if values.len() < 2 {
        return;
    }
    if values.len() <= 16 {
        let keys: Vec<Vec<u8>> = values.iter().map(|v| rule.key(v)).collect();
        if keys.iter().enumerate().all(|(i, k)| !keys[..i].contains(k)) {
            return;
        }
        let mut i = 0;
        values.retain(|_| {
            i += 1;
            !keys[..i - 1].contains(&keys[i - 1])
        });
        return;
    }
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(rule.key(v)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Value {
        Value::Text(s.to_string())
    }

    #[test]
    fn operational_names_ignore_case_and_options() {
        assert!(is_operational("createTimestamp"));
        assert!(is_operational("CREATETIMESTAMP"));
        assert!(is_operational("pwdHistory;x-foo"));
        assert!(is_operational("objectGUID"));
        assert!(!is_operational("nsAccountLock"));
        assert!(!is_operational("cn"));
        assert!(!is_operational("mail"));
    }

    #[test]
    fn rules_by_attribute() {
        assert_eq!(MatchingRule::for_attribute("member"), MatchingRule::DistinguishedName);
        assert_eq!(MatchingRule::for_attribute("uniquemember"), MatchingRule::DistinguishedName);
        assert_eq!(MatchingRule::for_attribute("roleOccupant"), MatchingRule::DistinguishedName);
        assert_eq!(MatchingRule::for_attribute("userPassword"), MatchingRule::CaseExact);
        assert_eq!(MatchingRule::for_attribute("unicodePwd"), MatchingRule::CaseExact);
        assert_eq!(MatchingRule::for_attribute("cn;lang-en"), MatchingRule::CaseIgnore);
    }

    #[test]
    fn case_ignore_folds_case_and_spaces() {
        let r = MatchingRule::CaseIgnore;
        assert!(r.equals(&t("  John   Doe "), &t("john doe")));
        assert!(!r.equals(&t("John Doe"), &t("JohnDoe")));
    }

    #[test]
    fn case_exact_is_exact() {
        let r = MatchingRule::CaseExact;
        assert!(!r.equals(&t("Secret"), &t("secret")));
        assert!(r.equals(&t("secret"), &Value::Binary(b"secret".to_vec())));
    }

    #[test]
    fn dn_rule_normalizes() {
        let r = MatchingRule::DistinguishedName;
        assert!(r.equals(&t("UID=Bob , OU=People,dc=Example"), &t("uid=bob,ou=people,dc=example")));
        assert!(!r.equals(&t("uid=bob,ou=people"), &t("uid=bob,ou=groups")));
        // Not a DN: compared case-insensitively.
        assert!(r.equals(&t("not a dn"), &t("NOT A DN")));
    }

    #[test]
    fn binary_values_compare_exactly() {
        let r = MatchingRule::CaseIgnore;
        let a = Value::Binary(vec![0xff, 0x41]);
        let b = Value::Binary(vec![0xff, 0x61]);
        assert!(!r.equals(&a, &b));
        assert!(r.equals(&a, &a.clone()));
    }

    #[test]
    fn json_compares_as_json() {
        let r = MatchingRule::CaseIgnore;
        let a = Value::Json(serde_json::json!({"a": 1, "b": "X"}));
        assert!(r.equals(&a, &t(r#"{ "b": "X", "a": 1 }"#)));
        assert!(!r.equals(&a, &t(r#"{"b":"x","a":1}"#)));
        assert!(r.equals(&Value::Json(serde_json::json!("Text")), &t("text")));
    }

    #[test]
    fn dedupe_keeps_first() {
        let v = dedupe(MatchingRule::CaseIgnore, vec![t("A"), t("b"), t("a"), t("B ")]);
        assert_eq!(v, vec![t("A"), t("b")]);
        let v = dedupe(MatchingRule::CaseExact, vec![t("A"), t("a")]);
        assert_eq!(v.len(), 2);
    }
}
