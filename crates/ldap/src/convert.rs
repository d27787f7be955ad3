//! Conversions between ldap3's wire types and the core [`Entry`], and the [`Modification`] type.

use std::collections::HashSet;

use ferrosync::entry::{Entry, Value};
use ldap3::asn1::{StructureTag, PL};
use ldap3::{Mod, ResultEntry, SearchEntry};

/// Attributes whose values are always binary, even when some bytes happen to be valid UTF-8 (lower case).
const BINARY_ATTRIBUTES: &[&str] = &[
    "audio",
    "authorityrevocationlist",
    "cacertificate",
    "certificaterevocationlist",
    "crosscertificatepair",
    "deltarevocationlist",
    "jpegphoto",
    "logonhours",
    "msds-generationid",
    "msexchmailboxguid",
    "msexchmasteraccountsid",
    "objectguid",
    "objectsid",
    "photo",
    "securityidentifier",
    "sidhistory",
    "supportedalgorithms",
    "thumbnaillogo",
    "thumbnailphoto",
    "tokengroups",
    "unicodepwd",
    "usercertificate",
    "userpkcs12",
    "usersmimecertificate",
];

/// Whether `name` (any case, options ignored) is an attribute whose values are binary by definition.
pub fn is_binary_attribute(name: &str) -> bool {
    let base = name.split(';').next().unwrap_or(name).to_ascii_lowercase();
    BINARY_ATTRIBUTES.contains(&base.as_str())
}

/// Splits off the `;binary` transfer option (RFC 4522): `("userCertificate", true)` for
/// `userCertificate;binary`. Other options (`;lang-en`, `;range=0-1499`) stay in the name.
pub fn strip_binary_option(name: &str) -> (String, bool) {
    let mut parts = name.split(';');
    let mut out = parts.next().unwrap_or_default().to_string();
    let mut binary = false;
    for option in parts {
        if option.eq_ignore_ascii_case("binary") {
            binary = true;
        } else {
            out.push(';');
            out.push_str(option);
        }
    }
    (out, binary)
}

/// Adds one attribute as received from a server to `entry`. All values become [`Value::Binary`] when the name
/// has `;binary`, the attribute is binary by definition, or any value is not UTF-8; otherwise [`Value::Text`].
/// The order of values is kept.
pub fn push_attribute(entry: &mut Entry, name: &str, values: Vec<Vec<u8>>) {
    if values.is_empty() {
        return;
    }
    let (name, binary_option) = strip_binary_option(name);
    let binary = binary_option || is_binary_attribute(&name) || values.iter().any(|v| std::str::from_utf8(v).is_err());
    for v in values {
        let value = if binary {
            Value::Binary(v)
        } else {
            match String::from_utf8(v) {
                Ok(s) => Value::Text(s),
                Err(e) => Value::Binary(e.into_bytes()),
            }
        };
        entry.add(&name, value);
    }
}

/// Converts a search result item to an [`Entry`]. Search references, intermediate messages and malformed
/// items give `None` (never a panic, unlike `SearchEntry::construct`).
pub fn entry_from_result_entry(re: ResultEntry) -> Option<Entry> {
    if re.is_ref() || re.is_intermediate() {
        return None;
    }
    entry_from_tag(re.0)
}

fn entry_from_tag(tag: StructureTag) -> Option<Entry> {
    if tag.id != 4 {
        return None;
    }
    let mut parts = tag.expect_constructed()?.into_iter();
    let dn = String::from_utf8_lossy(&parts.next()?.expect_primitive()?).into_owned();
    let mut entry = Entry::new(dn);
    let attrs = match parts.next() {
        Some(t) => t.expect_constructed()?,
        None => Vec::new(),
    };
    for attr in attrs {
        let mut pa = attr.expect_constructed()?.into_iter();
        let name_bytes = pa.next()?.expect_primitive()?;
        let name = String::from_utf8_lossy(&name_bytes);
        let values = match pa.next().map(|t| t.payload) {
            Some(PL::C(vals)) => vals.into_iter().filter_map(StructureTag::expect_primitive).collect(),
            _ => Vec::new(),
        };
        push_attribute(&mut entry, &name, values);
    }
    Some(entry)
}

/// Converts an ldap3 [`SearchEntry`] to an [`Entry`]. ldap3 has already moved any attribute with a non-UTF-8
/// value to `bin_attrs`, binary values first, so the order of such values is lost; prefer
/// [`entry_from_result_entry`].
pub fn entry_from_search_entry(se: SearchEntry) -> Entry {
    let mut entry = Entry::new(se.dn);
    for (name, values) in se.attrs {
        push_attribute(&mut entry, &name, values.into_iter().map(String::into_bytes).collect());
    }
    for (name, values) in se.bin_attrs {
        let (name, _) = strip_binary_option(&name);
        for v in values {
            entry.add(&name, Value::Binary(v));
        }
    }
    entry
}

/// The attributes of `entry` in the shape of ldap3's `add`. Attributes without values are left out.
pub fn add_attributes(entry: &Entry) -> Vec<(Vec<u8>, HashSet<Vec<u8>>)> {
    entry
        .attributes()
        .filter(|a| !a.values.is_empty())
        .map(|a| (a.name.as_bytes().to_vec(), a.values.iter().map(Value::to_bytes).collect()))
        .collect()
}

/// One change of an LDAP modify.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Modification {
    /// Adds values (at least one).
    Add(String, Vec<Value>),
    /// Deletes these values; an empty list deletes the whole attribute.
    Delete(String, Vec<Value>),
    /// Replaces all values; an empty list deletes the attribute if it exists.
    Replace(String, Vec<Value>),
    /// Increments an integer attribute by this amount (RFC 4525).
    Increment(String, Value),
}

impl Modification {
    /// The attribute this change is about.
    pub fn attribute(&self) -> &str {
        match self {
            Modification::Add(a, _)
            | Modification::Delete(a, _)
            | Modification::Replace(a, _)
            | Modification::Increment(a, _) => a,
        }
    }

    /// The ldap3 form. Names and values are bytes, so binary values go through unchanged.
    pub fn to_mod(&self) -> Mod<Vec<u8>> {
        fn set(values: &[Value]) -> HashSet<Vec<u8>> {
            values.iter().map(Value::to_bytes).collect()
        }
        match self {
            Modification::Add(a, v) => Mod::Add(a.as_bytes().to_vec(), set(v)),
            Modification::Delete(a, v) => Mod::Delete(a.as_bytes().to_vec(), set(v)),
            Modification::Replace(a, v) => Mod::Replace(a.as_bytes().to_vec(), set(v)),
            Modification::Increment(a, v) => Mod::Increment(a.as_bytes().to_vec(), v.to_bytes()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::TagClass;

    fn prim(bytes: &[u8]) -> StructureTag {
        StructureTag { class: TagClass::Universal, id: 4, payload: PL::P(bytes.to_vec()) }
    }

    fn cons(id: u64, class: TagClass, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag { class, id, payload: PL::C(inner) }
    }

    fn attr(name: &str, values: &[&[u8]]) -> StructureTag {
        cons(
            16,
            TagClass::Universal,
            vec![prim(name.as_bytes()), cons(17, TagClass::Universal, values.iter().map(|v| prim(v)).collect())],
        )
    }

    #[test]
    fn converts_entries_keeping_order_and_binary() {
        let tag = cons(
            4,
            TagClass::Application,
            vec![
                prim(b"uid=a,dc=x"),
                cons(
                    16,
                    TagClass::Universal,
                    vec![
                        attr("CN", &[b"A", b"B"]),
                        attr("description", &[b"text", b"\xff\xfe", b"more"]),
                        attr("userCertificate;binary", &[b"0\x82"]),
                        attr("objectGUID", &[b"abcdabcdabcdabcd"]),
                        attr("empty", &[]),
                    ],
                ),
            ],
        );
        let e = entry_from_result_entry(ResultEntry::new(tag)).unwrap_or_default();
        assert_eq!(e.dn, "uid=a,dc=x");
        assert_eq!(e.texts("cn"), vec!["A", "B"]);
        assert_eq!(e.get("cn").map(|a| a.name.as_str()), Some("CN"));
        assert_eq!(
            e.values("description"),
            &[Value::Binary(b"text".to_vec()), Value::Binary(vec![0xff, 0xfe]), Value::Binary(b"more".to_vec())]
        );
        assert_eq!(e.values("usercertificate"), &[Value::Binary(b"0\x82".to_vec())]);
        assert_eq!(e.values("objectguid"), &[Value::Binary(b"abcdabcdabcdabcd".to_vec())]);
        assert!(!e.has("empty"));
    }

    #[test]
    fn references_and_garbage_are_skipped() {
        let reference = cons(19, TagClass::Application, vec![prim(b"ldap://x/dc=y")]);
        assert!(entry_from_result_entry(ResultEntry::new(reference)).is_none());
        let intermediate = cons(25, TagClass::Application, vec![]);
        assert!(entry_from_result_entry(ResultEntry::new(intermediate)).is_none());
        let garbage = StructureTag { class: TagClass::Application, id: 4, payload: PL::P(vec![1, 2]) };
        assert!(entry_from_result_entry(ResultEntry::new(garbage)).is_none());
    }

    #[test]
    fn binary_option() {
        assert_eq!(strip_binary_option("userCertificate;binary"), ("userCertificate".into(), true));
        assert_eq!(strip_binary_option("cn;lang-en"), ("cn;lang-en".into(), false));
        assert_eq!(strip_binary_option("x;BINARY;lang-de"), ("x;lang-de".into(), true));
        assert!(is_binary_attribute("jpegPhoto"));
        assert!(is_binary_attribute("userCertificate;binary"));
        assert!(!is_binary_attribute("cn"));
    }

    #[test]
    fn modifications_keep_bytes() {
        let m = Modification::Add("jpegPhoto".into(), vec![Value::Binary(vec![0xff, 0])]);
        assert_eq!(m.to_mod(), Mod::Add(b"jpegPhoto".to_vec(), HashSet::from([vec![0xff, 0]])));
        let m = Modification::Delete("mail".into(), vec![]);
        assert_eq!(m.to_mod(), Mod::Delete(b"mail".to_vec(), HashSet::new()));
        assert_eq!(m.attribute(), "mail");
    }
}
