//! Property tests of the syntaxes that have an inverse: an escaped DN value or filter assertion reads back as
//! exactly the value that was escaped, and escaping never changes a DN's or a filter's structure (a value full
//! of `,`, `+`, `=`, `(`, `)`, `*`, `\`, NUL, quotes or non-ASCII text stays one value of one RDN or item).
//! The fuzz targets `dn` and `ldap_filter` (fuzz/) check the same round trips from the other side: from any text.

use ferrosync::syntax::dn::{escape_value, Dn, Rdn};
use ferrosync::syntax::filter::{ldap_filter_escape, Filter};
use proptest::prelude::*;

/// Attribute types as operators write them: a letter, then letters, digits and hyphens.
fn attr() -> impl Strategy<Value = String> {
    "[a-zA-Z][a-zA-Z0-9-]{0,12}"
}

/// Values that stress escaping: any text, with the special characters of RFC 4514 and 4515 made likely.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just(','),
                Just('+'),
                Just('='),
                Just('"'),
                Just('\\'),
                Just('<'),
                Just('>'),
                Just(';'),
                Just('#'),
                Just(' '),
                Just('('),
                Just(')'),
                Just('*'),
                Just('\0'),
                Just('é'),
                Just('\u{1F600}'),
                Just('a'),
            ],
            1..12
        )
        .prop_map(|cs| cs.into_iter().collect()),
    ]
}

fn filter() -> impl Strategy<Value = Filter> {
    let nonempty = || value().prop_filter("not empty", |v| !v.is_empty());
    let leaf = prop_oneof![
        (attr(), value()).prop_map(|(a, v)| Filter::equality(a, v)),
        attr().prop_map(Filter::present),
        (attr(), value()).prop_map(|(a, v)| Filter::GreaterOrEqual { attr: a, value: v.into_bytes() }),
        (attr(), value()).prop_map(|(a, v)| Filter::Approx { attr: a, value: v.into_bytes() }),
        (
            attr(),
            proptest::option::of(nonempty()),
            proptest::collection::vec(nonempty(), 0..3),
            proptest::option::of(nonempty())
        )
            .prop_filter("a substring filter has a part", |(_, i, any, f)| i.is_some()
                || !any.is_empty()
                || f.is_some())
            .prop_map(|(a, i, any, f)| Filter::Substring {
                attr: a,
                initial: i.map(String::into_bytes),
                any: any.into_iter().map(String::into_bytes).collect(),
                final_: f.map(String::into_bytes),
            }),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Filter::and),
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Filter::or),
            inner.prop_map(Filter::negate),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// An RDN value escaped by `escape_value` reads back as itself, and the DN keeps its number of RDNs.
    #[test]
    fn a_dn_value_escapes_and_parses_back(values in proptest::collection::vec((attr(), value()), 1..5)) {
        let text: Vec<String> = values.iter().map(|(a, v)| format!("{a}={}", escape_value(v))).collect();
        let text = text.join(",");
        let dn = Dn::parse(&text);
        prop_assert!(dn.is_ok(), "{text:?} does not parse: {dn:?}");
        let dn = dn.unwrap();
        prop_assert_eq!(dn.len(), values.len(), "{:?} has another number of RDNs", text);
        for (rdn, (a, v)) in dn.rdns().iter().zip(&values) {
            prop_assert!(!rdn.is_multi_valued());
            prop_assert_eq!(rdn.get(a), Some(v.as_str()), "in {:?}", text);
        }
    }

    /// A DN built from values shows as a text that parses to the same DN.
    #[test]
    fn a_dn_shows_as_a_text_that_parses_to_it(values in proptest::collection::vec((attr(), value()), 1..5)) {
        let rdns: Vec<Rdn> = values.iter().map(|(a, v)| Rdn::new(a.clone(), v.clone())).collect();
        let dn = Dn::from_rdns(rdns);
        let shown = dn.to_string();
        let again = Dn::parse(&shown);
        prop_assert!(again.is_ok(), "{shown:?} does not parse: {again:?}");
        prop_assert_eq!(again.unwrap().normalized(), dn.normalized());
    }

    /// A value escaped by `ldap_filter_escape` is one equality assertion of exactly that value.
    #[test]
    fn a_filter_value_escapes_into_one_assertion(a in attr(), v in value()) {
        let text = format!("({a}={})", ldap_filter_escape(&v));
        prop_assert_eq!(Filter::parse(&text), Ok(Filter::equality(a, v)), "from {:?}", text);
    }

    /// Any filter shows as a text that parses to the same filter: escaping never changes its structure.
    #[test]
    fn a_filter_shows_as_a_text_that_parses_to_it(f in filter()) {
        let shown = f.to_string();
        prop_assert_eq!(Filter::parse(&shown), Ok(f), "from {:?}", shown);
    }
}
