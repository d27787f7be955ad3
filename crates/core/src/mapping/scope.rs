//! The destination side of a pipe's scope: which destination entries a class would produce, so that resync's
//! delete pass can tell which unmatched destination entries are its own to delete.

use super::attribute::{apply_dn_maps, DnMapOutcome};
use super::rules::is_dn_pseudo_attribute;
use super::{ClassMapping, PipeMapping};
use crate::entry::Entry;
use crate::syntax::{Dn, Rdn};

impl ClassMapping {
    /// The destination image of the class's `include-base-dn`s: each base DN as the class's DN maps move the
    /// entries below it. `Some(empty)` when the class has no base DN (every DN); `None` when the DN maps make
    /// it unknowable (a map that reads source attributes, or that reshapes the leftmost RDN).
    pub(crate) fn compute_destination_bases(&self) -> Option<Vec<Dn>> {
        let mut out = Vec::with_capacity(self.base_dns.len());
        for base in &self.base_dns {
            out.push(self.destination_base(base)?);
        }
        Some(out)
    }

    fn destination_base(&self, base: &Dn) -> Option<Dn> {
        if self.dn_maps.is_empty() {
            return Some(base.clone());
        }
        // Map a child of the base: where it lands, minus its own RDN, is the destination base.
        let probe_rdn = Rdn::new("ferrosyncScopeProbe", "probe");
        let probe = base.child(probe_rdn.clone());
        match apply_dn_maps(&self.dn_maps, &probe, &Entry::new(probe.to_string())) {
            DnMapOutcome::NoMatch => Some(base.clone()),
            DnMapOutcome::Mapped(d) if d.rdn() == Some(&probe_rdn) => d.parent(),
            DnMapOutcome::Mapped(_) | DnMapOutcome::Failed(_) => None,
        }
    }

    /// The destination base DNs of the class (see [`ClassMapping::compute_destination_bases`]); empty: any DN;
    /// `None`: unknown.
    pub fn destination_base_dns(&self) -> Option<&[Dn]> {
        self.dest_base_dns.as_deref()
    }
}

impl PipeMapping {
    /// The attributes to fetch with each destination entry for [`PipeMapping::deletable_at_destination`]:
    /// `objectClass` and the attributes of the classes' include filters.
    pub fn destination_scope_attributes(&self) -> Vec<String> {
        let mut out = vec!["objectClass".to_string()];
        for c in &self.classes {
            for f in &c.filters {
                for a in f.attributes() {
                    if !a.eq_ignore_ascii_case("dn") && !out.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
                        out.push(a);
                    }
                }
            }
        }
        out.retain(|a| !is_dn_pseudo_attribute(a) || a.eq_ignore_ascii_case("entryDN"));
        out
    }

    /// Whether a destination entry that no source entry maps to may be deleted: the first class (in evaluation
    /// order) whose destination scope holds it (its destination base DNs, and its include filters evaluated on
    /// the destination entry) must synchronize deletes. Conservative: `false` when no class claims the entry,
    /// and when a class whose destination scope is unknown (see [`ClassMapping::destination_base_dns`]) might
    /// claim it before.
    pub fn deletable_at_destination(&self, entry: &Entry) -> bool {
        let dn = Dn::parse(&entry.dn).ok();
        for c in &self.classes {
            let filters_match = c.filters.is_empty() || c.filters.iter().any(|f| f.matches(entry));
            let Some(bases) = &c.dest_base_dns else {
                if filters_match {
                    return false;
                }
                continue;
            };
            let within = bases.is_empty() || dn.as_ref().is_some_and(|d| bases.iter().any(|b| d.is_within(b)));
            if within && filters_match {
                return c.deletes;
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{entry, pipe};

    #[test]
    fn destination_bases_follow_dn_maps() {
        let m = pipe(
            r#"
dsconfig create-dn-map --map-name flatten --set "from-dn-pattern:*,**,ou=people,dc=example,dc=com" \
    --set "to-dn-pattern:{1},ou=users,o=example"
dsconfig create-dn-map --map-name by-attr --set "from-dn-pattern:*,ou=staff,dc=example,dc=com" \
    --set "to-dn-pattern:uid={uid},ou=staff,o=example"
dsconfig create-sync-class --pipe-name p --class-name people --set evaluation-order-index:1 \
    --set include-base-dn:ou=people,dc=example,dc=com --set dn-map:flatten \
    --set "include-filter:(objectClass=person)"
dsconfig create-sync-class --pipe-name p --class-name staff --set evaluation-order-index:2 \
    --set include-base-dn:ou=staff,dc=example,dc=com --set dn-map:by-attr
dsconfig create-sync-class --pipe-name p --class-name groups --set evaluation-order-index:3 \
    --set include-base-dn:ou=groups,o=example --set synchronize-deletes:false
dsconfig create-sync-class --pipe-name p --class-name rest --set evaluation-order-index:4 \
    --set include-base-dn:ou=other,o=example
"#,
        );
        let people = m.class("people").unwrap();
        assert_eq!(people.destination_base_dns().unwrap()[0].to_string(), "ou=users,o=example");
        assert!(m.class("staff").unwrap().destination_base_dns().is_none());
        assert_eq!(m.destination_scope_attributes(), ["objectClass"]);

        let user = entry("uid=bob,ou=users,o=example", &[("objectClass", "person")]);
        assert!(m.deletable_at_destination(&user));
        // Not a person: the filter does not match; the staff class (unknown scope, no filter) might claim it.
        let device = entry("cn=printer,ou=users,o=example", &[("objectClass", "device")]);
        assert!(!m.deletable_at_destination(&device));
    }

    #[test]
    fn deletes_flag_and_out_of_scope() {
        let m = pipe(
            r#"
dsconfig create-sync-class --pipe-name p --class-name groups --set evaluation-order-index:1 \
    --set include-base-dn:ou=groups,o=example --set synchronize-deletes:false
dsconfig create-sync-class --pipe-name p --class-name people --set evaluation-order-index:2 \
    --set include-base-dn:ou=people,o=example --set "include-filter:(employeeType=staff)"
"#,
        );
        assert!(!m.deletable_at_destination(&entry("cn=g,ou=groups,o=example", &[])));
        assert!(m.deletable_at_destination(&entry("uid=a,ou=people,o=example", &[("employeeType", "Staff")])));
        assert!(!m.deletable_at_destination(&entry("uid=a,ou=people,o=example", &[("employeeType", "temp")])));
        assert!(!m.deletable_at_destination(&entry("uid=a,ou=elsewhere,o=example", &[])));
        assert_eq!(m.destination_scope_attributes(), ["objectClass", "employeeType"]);
    }
}
