//! The model-based test: random pipe configurations (dsconfig commands) and random change streams run through
//! the real pipe runner over the fake endpoints, with random crash points and injected faults; once the
//! change log is drained, the destination must hold what an independent reference model of PingDataSync's
//! documented semantics expects, the failed-operations log must hold exactly the failures the model expects,
//! and no change may have been applied twice in effect (the fake destination refuses, as a directory does, a
//! value added twice or a value deleted that is not there; a create may meet an existing entry only after a
//! crash, or where the source re-added the DN of an entry whose delete was not synchronized).
//!
//! The reference model below is written from the reference (`pingdatasync-reference.md`, sections b and d)
//! and the behaviour ferrosync documents, never by calling the engine's mapping code:
//!
//! * classes are tried in ascending `evaluation-order-index`, then name; the first whose `include-base-dn`
//!   holds the DN and whose `include-filter` matches the whole source entry wins; none: out of scope;
//! * a class whose `synchronize-creates/modifies/deletes` is false drops that operation
//!   (`op-type-not-synchronized`) before anything else, and nothing is logged as failed;
//! * a delete is classified by the class that last synchronized the entry; a delete of an entry the pipe
//!   never synchronized changes nothing;
//! * the source entry is read as it is now; the destination entry is found by the id map, else by the
//!   class's correlation lists (the first that finds exactly one entry); a modify whose entry is found
//!   nowhere is `no-match-found` (logged as failed), several found is `multiple-matches-found`;
//! * a real-time modify changes only the destination attributes derived from the changed source attributes
//!   (Ping's `sync-on-every-update` exists because of that); the others may be left as they are or brought
//!   up to date, and the model accepts both; creates, renames and moves write the whole mapped entry;
//!   `destination-create-only-attribute`s are written on create only;
//! * an entry that is modified or moved into a class without having been synchronized is created (a
//!   ferrosync rule, documented in the engine); a create that meets an existing entry is applied as a
//!   modify (ferrosync's rule for replays); an entry that leaves every class is deleted at the destination
//!   if the class that synchronized it synchronizes deletes.
//!
//! Short run: part of `cargo test` (the default case count below). Long run:
//! `PROPTEST_CASES=100000 cargo test --release -p ferrosync-testkit --test model`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

use ferrosync::endpoint::Modification;
use ferrosync::entry::{Entry, Value};
use ferrosync::syntax::Dn;
use ferrosync_testkit::{
    base_batch, dit::value_key, FakeDestination, Fault, FaultPlan, Harness, Op, SourceDirectory, WriteOp,
};
use proptest::prelude::*;

const SUFFIX: &str = "dc=example,dc=com";
const OUS: [&str; 3] = ["people", "contractors", "other"];

// ---------------------------------------------------------------------------------------------------------
// Configurations.

#[derive(Clone, Debug, PartialEq)]
pub enum Base {
    Any,
    Suffix,
    People,
    Contractors,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ClassFilter {
    None,
    Staff,
    Contractor,
    InetOrgPerson,
    Dept1,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Correlation {
    Dn,
    Uid,
    DnThenUid,
    DnAndUid,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Auto {
    /// `-all-`.
    All,
    /// `-all-` with `excluded-auto-mapped-source-attributes:employeeType`.
    AllButEmployeeType,
    /// `objectClass,uid,cn,sn,description`: employeeType and departmentNumber are not mapped.
    List,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Class {
    pub order: u8,
    pub base: Base,
    pub filter: ClassFilter,
    pub creates: bool,
    pub modifies: bool,
    pub deletes: bool,
    /// `*,ou=people,dc=example,dc=com` to `{1},ou=users,dc=example,dc=com`.
    pub dn_map: bool,
    pub correlation: Correlation,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pipe {
    pub classes: Vec<Class>,
    pub auto: Auto,
    /// An attribute map with `displayName` mapped directly from `cn`.
    pub display_name: bool,
    pub create_only_description: bool,
    pub replace_all: bool,
    pub threads: u8,
}

impl Class {
    fn name(i: usize) -> String {
        format!("class-{i}")
    }

    fn filter_attr(&self) -> Option<&'static str> {
        match self.filter {
            ClassFilter::None => None,
            ClassFilter::Staff | ClassFilter::Contractor => Some("employeetype"),
            ClassFilter::InetOrgPerson => Some("objectclass"),
            ClassFilter::Dept1 => Some("departmentnumber"),
        }
    }

    fn filter_text(&self) -> Option<&'static str> {
        match self.filter {
            ClassFilter::None => None,
            ClassFilter::Staff => Some("(employeeType=staff)"),
            ClassFilter::Contractor => Some("(employeeType=contractor)"),
            ClassFilter::InetOrgPerson => Some("(objectClass=inetOrgPerson)"),
            ClassFilter::Dept1 => Some("(departmentNumber=1)"),
        }
    }
}

impl Pipe {
    /// The dsconfig batch an operator would write.
    pub fn batch(&self) -> String {
        let mut b = base_batch("p");
        b.push_str(&format!("dsconfig set-sync-pipe-prop --pipe-name p --set num-worker-threads:{}\n", self.threads));
        b.push_str(
            "dsconfig create-dn-map --map-name to-users --set \"from-dn-pattern:*,ou=people,dc=example,dc=com\" \
             --set \"to-dn-pattern:{1},ou=users,dc=example,dc=com\"\n",
        );
        if self.display_name {
            b.push_str("dsconfig create-attribute-map --map-name names\n");
            b.push_str(
                "dsconfig create-attribute-mapping --map-name names --mapping-name displayName --type direct \
                 --set from-attribute:cn\n",
            );
        }
        for (i, c) in self.classes.iter().enumerate() {
            let mut line = format!(
                "dsconfig create-sync-class --pipe-name p --class-name {} --set evaluation-order-index:{} \
                 --set synchronize-creates:{} --set synchronize-modifies:{} --set synchronize-deletes:{}",
                Class::name(i),
                c.order,
                c.creates,
                c.modifies,
                c.deletes
            );
            match c.base {
                Base::Any => {}
                Base::Suffix => line.push_str(&format!(" --set include-base-dn:{SUFFIX}")),
                Base::People => line.push_str(&format!(" --set include-base-dn:ou=people,{SUFFIX}")),
                Base::Contractors => line.push_str(&format!(" --set include-base-dn:ou=contractors,{SUFFIX}")),
            }
            if let Some(f) = c.filter_text() {
                line.push_str(&format!(" --set \"include-filter:{f}\""));
            }
            if c.dn_map {
                line.push_str(" --set dn-map:to-users");
            }
            match c.correlation {
                Correlation::Dn => line.push_str(" --set destination-correlation-attributes:dn"),
                Correlation::Uid => line.push_str(" --set destination-correlation-attributes:uid"),
                Correlation::DnThenUid => line.push_str(
                    " --set destination-correlation-attributes:dn --set destination-correlation-attributes:uid",
                ),
                Correlation::DnAndUid => line.push_str(" --set destination-correlation-attributes:dn,uid"),
            }
            match self.auto {
                Auto::All => line.push_str(" --set auto-mapped-source-attribute:-all-"),
                Auto::AllButEmployeeType => line.push_str(
                    " --set auto-mapped-source-attribute:-all- --set excluded-auto-mapped-source-attributes:employeeType",
                ),
                Auto::List => {
                    for a in ["objectClass", "uid", "cn", "sn", "description"] {
                        line.push_str(&format!(" --set auto-mapped-source-attribute:{a}"));
                    }
                }
            }
            if self.display_name {
                line.push_str(" --set attribute-map:names");
            }
            if self.create_only_description {
                line.push_str(" --set destination-create-only-attribute:description");
            }
            if self.replace_all {
                line.push_str(" --set replace-all-attr-values:true");
            }
            b.push_str(&line);
            b.push('\n');
        }
        b
    }
}

// ---------------------------------------------------------------------------------------------------------
// Change streams.

#[derive(Clone, Debug, PartialEq)]
pub enum Attr {
    EmployeeType(Option<bool>),
    Dept(Option<bool>),
    Description(Option<u8>),
    Cn(u8),
    Sn(u8),
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewEntry {
    pub person: bool,
    /// Some(true): staff; Some(false): contractor.
    pub staff: Option<bool>,
    pub dept1: Option<bool>,
    pub description: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Add {
        ou: u8,
        uid: u8,
        entry: NewEntry,
    },
    Modify {
        target: u8,
        attr: Attr,
    },
    Rename {
        target: u8,
        uid: u8,
    },
    Move {
        target: u8,
        ou: u8,
    },
    Delete {
        target: u8,
    },
    /// Deletes an entry and, once that is synchronized, adds one at the same DN.
    ReAdd {
        target: u8,
        entry: NewEntry,
    },
    /// Lets the pipe drain the log; with a crash point, kills it that many milliseconds in and restarts it.
    Drain {
        crash_ms: Option<u8>,
    },
}

fn new_entry() -> impl Strategy<Value = NewEntry> {
    (any::<bool>(), prop::option::of(any::<bool>()), prop::option::of(any::<bool>()), any::<bool>())
        .prop_map(|(p, staff, dept1, description)| NewEntry { person: p || staff.is_some(), staff, dept1, description })
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0u8..3, 0u8..8, new_entry()).prop_map(|(ou, uid, entry)| Step::Add { ou, uid, entry }),
        4 => (any::<u8>(), prop_oneof![
            prop::option::of(any::<bool>()).prop_map(Attr::EmployeeType),
            prop::option::of(any::<bool>()).prop_map(Attr::Dept),
            prop::option::of(0u8..3).prop_map(Attr::Description),
            (0u8..3).prop_map(Attr::Cn),
            (0u8..3).prop_map(Attr::Sn),
        ]).prop_map(|(target, attr)| Step::Modify { target, attr }),
        1 => (any::<u8>(), 0u8..8).prop_map(|(target, uid)| Step::Rename { target, uid }),
        2 => (any::<u8>(), 0u8..3).prop_map(|(target, ou)| Step::Move { target, ou }),
        2 => any::<u8>().prop_map(|target| Step::Delete { target }),
        1 => (any::<u8>(), new_entry()).prop_map(|(target, entry)| Step::ReAdd { target, entry }),
        2 => prop::option::of(1u8..25).prop_map(|crash_ms| Step::Drain { crash_ms }),
    ]
}

fn class() -> impl Strategy<Value = Class> {
    (
        1u8..4,
        prop_oneof![Just(Base::Any), Just(Base::Suffix), Just(Base::People), Just(Base::Contractors)],
        prop_oneof![
            Just(ClassFilter::None),
            Just(ClassFilter::Staff),
            Just(ClassFilter::Contractor),
            Just(ClassFilter::InetOrgPerson),
            Just(ClassFilter::Dept1)
        ],
        (any::<bool>(), any::<bool>(), any::<bool>()),
        any::<bool>(),
        prop_oneof![
            Just(Correlation::Dn),
            Just(Correlation::Uid),
            Just(Correlation::DnThenUid),
            Just(Correlation::DnAndUid)
        ],
    )
        .prop_map(|(order, base, filter, (creates, modifies, deletes), dn_map, correlation)| Class {
            order,
            dn_map: dn_map && base == Base::People,
            base,
            filter,
            creates,
            modifies,
            deletes,
            correlation,
        })
}

fn pipe() -> impl Strategy<Value = Pipe> {
    (
        prop::collection::vec(class(), 1..4),
        prop_oneof![Just(Auto::All), Just(Auto::AllButEmployeeType), Just(Auto::List)],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        1u8..4,
    )
        .prop_map(|(classes, auto, display_name, create_only_description, replace_all, threads)| Pipe {
            classes,
            auto,
            display_name,
            create_only_description,
            replace_all,
            threads,
        })
}

// ---------------------------------------------------------------------------------------------------------
// The reference model.

/// What the model expects of one destination attribute: any of these states (`None`: absent).
type States = Vec<Option<BTreeSet<String>>>;

#[derive(Clone, Debug, Default)]
struct MEntry {
    dn: String,
    attrs: BTreeMap<String, States>,
}

impl MEntry {
    fn state(&self, attr: &str) -> States {
        self.attrs.get(attr).cloned().unwrap_or_else(|| vec![None])
    }
    fn set(&mut self, attr: &str, v: Option<BTreeSet<String>>) {
        self.attrs.insert(attr.to_string(), vec![v]);
    }
    fn widen(&mut self, attr: &str, v: Option<BTreeSet<String>>) {
        let mut s = self.state(attr);
        if !s.contains(&v) {
            s.push(v);
        }
        self.attrs.insert(attr.to_string(), s);
    }
}

/// A source entry as the model sees it: lower-case attribute names, value keys.
#[derive(Clone, Debug)]
struct SEntry {
    dn: String,
    attrs: BTreeMap<String, BTreeSet<String>>,
}

impl SEntry {
    fn from(e: &Entry) -> SEntry {
        let mut attrs = BTreeMap::new();
        for a in e.attributes() {
            let name = a.name.to_ascii_lowercase();
            if name == "entryuuid" {
                continue;
            }
            attrs.insert(name, a.values.iter().map(value_key).collect());
        }
        SEntry { dn: e.dn.to_ascii_lowercase(), attrs }
    }
    fn has_value(&self, attr: &str, v: &str) -> bool {
        self.attrs.get(attr).is_some_and(|s| s.contains(v))
    }
}

fn norm(dn: &str) -> String {
    Dn::parse(dn).map(|d| d.normalized()).unwrap_or_else(|_| dn.to_ascii_lowercase())
}

/// The OU an entry DN sits in (`uid=x,ou=Y,dc=example,dc=com`).
fn ou_of(dn: &str) -> Option<String> {
    let d = Dn::parse(dn).ok()?;
    let parent = d.parent()?;
    parent.rdn()?.get("ou").map(|s| s.to_ascii_lowercase())
}

fn rdn_uid(dn: &str) -> String {
    Dn::parse(dn).ok().and_then(|d| d.rdn().and_then(|r| r.get("uid").map(str::to_string))).unwrap_or_default()
}

#[derive(Clone, Debug)]
struct Synced {
    class: usize,
    dest: String,
}

struct Model<'a> {
    pipe: &'a Pipe,
    /// Class indexes in evaluation order.
    order: Vec<usize>,
    dest: BTreeMap<String, MEntry>,
    synced: HashMap<String, Synced>,
    /// Destination DNs ever left behind by deletes that were not synchronized.
    orphans: HashSet<String>,
    /// The changes expected in the failed-operations log, by change number, with their result.
    failures: BTreeMap<u64, &'static str>,
    /// Destination DNs a rename is expected to find taken.
    conflicts: HashSet<String>,
    /// Destination DNs where an entry the id map does not know found another source entry's destination entry
    /// by correlation: the engine may try the create first (correlation by DN alone) and meet it.
    taken: HashSet<String>,
    /// Set when what the pipe does next depends on a state the model leaves open (a destination attribute it
    /// allows either of two values for decides a class): the case is not checked.
    unpredictable: Option<String>,
}

enum Found {
    None,
    One(String),
    Many,
}

impl<'a> Model<'a> {
    fn new(pipe: &'a Pipe) -> Model<'a> {
        let mut order: Vec<usize> = (0..pipe.classes.len()).collect();
        order.sort_by_key(|i| (pipe.classes[*i].order, Class::name(*i)));
        Model {
            pipe,
            order,
            dest: BTreeMap::new(),
            synced: HashMap::new(),
            orphans: HashSet::new(),
            failures: BTreeMap::new(),
            conflicts: HashSet::new(),
            taken: HashSet::new(),
            unpredictable: None,
        }
    }

    fn in_base(&self, c: &Class, dn: &str) -> bool {
        let n = norm(dn);
        let within = |base: &str| n == norm(base) || n.ends_with(&format!(",{}", norm(base)));
        match c.base {
            Base::Any => true,
            Base::Suffix => within(SUFFIX),
            Base::People => within(&format!("ou=people,{SUFFIX}")),
            Base::Contractors => within(&format!("ou=contractors,{SUFFIX}")),
        }
    }

    fn filter_matches(&self, c: &Class, e: &SEntry) -> bool {
        match c.filter {
            ClassFilter::None => true,
            ClassFilter::Staff => e.has_value("employeetype", "staff"),
            ClassFilter::Contractor => e.has_value("employeetype", "contractor"),
            ClassFilter::InetOrgPerson => e.has_value("objectclass", "inetorgperson"),
            ClassFilter::Dept1 => e.has_value("departmentnumber", "1"),
        }
    }

    /// Whether a destination entry matches a class's filter, when every state the model allows for it
    /// agrees (`None`: it depends on the state).
    fn filter_matches_destination(&self, c: &Class, d: &MEntry) -> Option<bool> {
        let (attr, value) = match c.filter {
            ClassFilter::None => return Some(true),
            ClassFilter::Staff => ("employeetype", "staff"),
            ClassFilter::Contractor => ("employeetype", "contractor"),
            ClassFilter::InetOrgPerson => ("objectclass", "inetorgperson"),
            ClassFilter::Dept1 => ("departmentnumber", "1"),
        };
        let answers: BTreeSet<bool> =
            d.state(attr).iter().map(|s| s.as_ref().is_some_and(|v| v.contains(value))).collect();
        if answers.len() == 1 {
            answers.first().copied()
        } else {
            None
        }
    }

    fn select(&self, e: &SEntry) -> Option<usize> {
        self.order.iter().copied().find(|i| {
            let c = &self.pipe.classes[*i];
            self.in_base(c, &e.dn) && self.filter_matches(c, e)
        })
    }

    fn select_by_dn(&self, dn: &str) -> Option<usize> {
        self.order.iter().copied().find(|i| self.in_base(&self.pipe.classes[*i], dn))
    }

    fn auto_maps(&self, attr: &str) -> bool {
        match self.pipe.auto {
            Auto::All => attr != "entryuuid",
            Auto::AllButEmployeeType => attr != "entryuuid" && attr != "employeetype",
            Auto::List => ["objectclass", "uid", "cn", "sn", "description"].contains(&attr),
        }
    }

    fn manages(&self, attr: &str) -> bool {
        self.auto_maps(attr) || (self.pipe.display_name && attr == "displayname")
    }

    fn create_only(&self, attr: &str) -> bool {
        self.pipe.create_only_description && attr == "description"
    }

    fn map_dn(&self, class: usize, dn: &str) -> String {
        let c = &self.pipe.classes[class];
        if c.dn_map && ou_of(dn).as_deref() == Some("people") {
            let rdn = Dn::parse(dn).ok().and_then(|d| d.rdn().map(|r| r.to_string())).unwrap_or_default();
            return format!("{rdn},ou=users,{SUFFIX}").to_ascii_lowercase();
        }
        dn.to_ascii_lowercase()
    }

    fn map(&self, class: usize, e: &SEntry) -> MEntry {
        let mut m = MEntry { dn: self.map_dn(class, &e.dn), attrs: BTreeMap::new() };
        for (a, v) in &e.attrs {
            if self.auto_maps(a) {
                m.set(a, Some(v.clone()));
            }
        }
        if self.pipe.display_name {
            m.attrs.remove("displayname");
            if let Some(cn) = e.attrs.get("cn") {
                m.set("displayname", Some(cn.clone()));
            }
        }
        m
    }

    fn exact(m: &MEntry, attr: &str) -> Option<BTreeSet<String>> {
        m.attrs.get(attr).and_then(|s| s.first().cloned()).flatten()
    }

    fn correlate(&self, class: usize, mapped: &MEntry) -> Found {
        let lists: Vec<Vec<&str>> = match self.pipe.classes[class].correlation {
            Correlation::Dn => vec![vec!["dn"]],
            Correlation::Uid => vec![vec!["uid"]],
            Correlation::DnThenUid => vec![vec!["dn"], vec!["uid"]],
            Correlation::DnAndUid => vec![vec!["dn", "uid"]],
        };
        let uid = Self::exact(mapped, "uid").and_then(|s| s.into_iter().next());
        let mut many = false;
        for list in lists {
            if list.contains(&"uid") && uid.is_none() {
                continue;
            }
            let found: Vec<&String> = self
                .dest
                .iter()
                .filter(|(k, _)| !list.contains(&"dn") || **k == norm(&mapped.dn))
                .filter(|(_, d)| {
                    !list.contains(&"uid")
                        || d.state("uid")
                            .iter()
                            .any(|s| s.as_ref().is_some_and(|s| uid.as_ref().is_some_and(|u| s.contains(u))))
                })
                .map(|(k, _)| k)
                .collect();
            match found.len() {
                0 => {}
                1 => return Found::One(found[0].clone()),
                _ => many = true,
            }
        }
        if many {
            Found::Many
        } else {
            Found::None
        }
    }

    fn create(&mut self, uuid: &str, class: usize, mapped: MEntry) {
        self.synced.insert(uuid.to_string(), Synced { class, dest: norm(&mapped.dn) });
        self.dest.insert(norm(&mapped.dn), mapped);
    }

    /// Writes `mapped` to destination entry `at` (renaming it when the DN differs): every attribute when
    /// `changed` is `None`, else the attributes derived from `changed` (the others may follow).
    fn update(&mut self, uuid: &str, class: usize, at: &str, mapped: &MEntry, changed: Option<&[String]>) {
        let Some(mut d) = self.dest.remove(at) else { return };
        d.dn = mapped.dn.clone();
        let names: BTreeSet<String> = d.attrs.keys().chain(mapped.attrs.keys()).cloned().collect();
        for a in names {
            if self.create_only(&a) {
                continue;
            }
            let in_mapped = mapped.attrs.contains_key(&a);
            if !in_mapped && !self.manages(&a) {
                continue;
            }
            let target = Self::exact(mapped, &a);
            let derived = match changed {
                None => true,
                Some(ch) => {
                    (self.auto_maps(&a) && ch.iter().any(|c| c.eq_ignore_ascii_case(&a)))
                        || (a == "displayname"
                            && self.pipe.display_name
                            && ch.iter().any(|c| c.eq_ignore_ascii_case("cn")))
                }
            };
            if derived {
                d.set(&a, target);
            } else {
                d.widen(&a, target);
            }
        }
        self.synced.insert(uuid.to_string(), Synced { class, dest: norm(&mapped.dn) });
        self.dest.insert(norm(&mapped.dn), d);
    }

    /// Entry `uuid`, not known to the id map, found destination entry `at` by correlation: the engine may
    /// try the create first and meet it. When `at` is another source entry's destination entry (a rename or
    /// move its class did not synchronize left it at this entry's DN), the two entries' later changes race
    /// with several workers (their lanes and DNs differ), so the case is not checked.
    fn share(&mut self, number: u64, uuid: &str, at: &str) {
        self.taken.insert(at.to_string());
        let shared = self.synced.iter().any(|(u, s)| u != uuid && s.dest == at);
        if shared && self.pipe.threads > 1 && self.unpredictable.is_none() {
            self.unpredictable = Some(format!(
                "change {number}: {at} is the destination entry of two source entries, whose changes race with {} workers",
                self.pipe.threads
            ));
        }
    }

    fn delete_synced(&mut self, uuid: &str) {
        if let Some(s) = self.synced.get(uuid).cloned() {
            if self.pipe.classes[s.class].deletes {
                self.dest.remove(&s.dest);
                self.synced.remove(uuid);
            }
        }
    }

    /// A change to entry `uuid`; `after` is the entry as it is after the change (`None`: deleted).
    fn apply(&mut self, number: u64, kind: Kind, uuid: &str, after: Option<&SEntry>) {
        match kind {
            Kind::Delete => {
                match self.synced.get(uuid).cloned() {
                    // Classified by the class that synchronized it.
                    Some(s) if self.pipe.classes[s.class].deletes => {
                        self.dest.remove(&s.dest);
                        self.synced.remove(uuid);
                    }
                    Some(s) => {
                        self.orphans.insert(s.dest.clone());
                        self.synced.remove(uuid);
                    }
                    // Never synchronized: nothing of it at the destination.
                    None => {}
                }
            }
            Kind::Add => {
                let e = after.expect("an added entry");
                let Some(c) = self.select(e) else { return };
                if !self.pipe.classes[c].creates {
                    // Dropped: the class does not synchronize creates.
                    return;
                }
                let mapped = self.map(c, e);
                let found = self.correlate(c, &mapped);
                if let Found::One(at) = &found {
                    self.share(number, uuid, at);
                }
                match found {
                    Found::Many => {
                        self.failures.insert(number, "multiple-matches-found");
                    }
                    Found::None => self.create(uuid, c, mapped),
                    // An entry already there: the create is applied as a modify.
                    Found::One(at) if self.pipe.classes[c].modifies => self.update(uuid, c, &at, &mapped, None),
                    // Not modified, but it is the entry's destination entry from now on.
                    Found::One(at) => {
                        self.synced.insert(uuid.to_string(), Synced { class: c, dest: at });
                    }
                }
            }
            Kind::Modify(ref changed) | Kind::ModDn(ref changed, _) => {
                let e = after.expect("a changed entry");
                let moddn = matches!(kind, Kind::ModDn(..));
                let mut known = self.synced.get(uuid).cloned();
                let mut old_class_by_dn = None;
                if let (Kind::ModDn(_, old_dn), None) = (&kind, &known) {
                    // A move of an entry the id map does not know: its old DN, mapped as it was, names the
                    // destination entry.
                    if let Some(oc) = self.select_by_dn(old_dn) {
                        old_class_by_dn = Some(oc);
                        known = Some(Synced { class: oc, dest: norm(&self.map_dn(oc, old_dn)) });
                    }
                }
                let Some(c) = self.select(e) else {
                    // Out of every class now.
                    if let Some(k) = known {
                        if self.synced.contains_key(uuid) {
                            self.delete_synced(uuid);
                        } else if let (Kind::ModDn(_, old_dn), Some(d)) = (&kind, self.dest.get(&k.dest)) {
                            // Not synchronized by the pipe: the destination entry at the old DN says which
                            // class wrote it (the first whose base DN holds the old DN and whose filter
                            // matches it), else the base DN alone; that class's deletes decide.
                            let mut by_filter = None;
                            for i in self.order.iter().copied() {
                                let c = &self.pipe.classes[i];
                                if !self.in_base(c, old_dn) {
                                    continue;
                                }
                                match self.filter_matches_destination(c, d) {
                                    Some(true) => {
                                        by_filter = Some(i);
                                        break;
                                    }
                                    Some(false) => {}
                                    None => {
                                        self.unpredictable = Some(format!(
                                            "change {number}: whether {} matches the filter of {} depends on which of \
                                             the values the model allows it holds",
                                            k.dest,
                                            Class::name(i)
                                        ));
                                        return;
                                    }
                                }
                            }
                            if self.pipe.classes[by_filter.unwrap_or(k.class)].deletes {
                                self.dest.remove(&k.dest);
                            }
                        }
                    }
                    return;
                };
                let class = &self.pipe.classes[c];
                let filter_changed =
                    class.filter_attr().is_some_and(|f| changed.iter().any(|a| a.eq_ignore_ascii_case(f)));
                let entering = known.is_none() && if moddn { old_class_by_dn.is_none() } else { filter_changed };
                if !entering && !class.modifies {
                    // A modify the class does not synchronize is dropped before anything is looked up.
                    return;
                }
                let mapped = self.map(c, e);
                let at = match &known {
                    Some(k) if self.dest.contains_key(&k.dest) => Found::One(k.dest.clone()),
                    _ => self.correlate(c, &mapped),
                };
                if let (None, Found::One(a)) = (&known, &at) {
                    self.share(number, uuid, a);
                }
                match at {
                    Found::Many => {
                        self.failures.insert(number, "multiple-matches-found");
                    }
                    Found::One(at) if at != norm(&mapped.dn) && self.dest.contains_key(&norm(&mapped.dn)) => {
                        // The new DN is taken at the destination (an entry whose delete was not synchronized):
                        // the rename fails, as a directory refuses it.
                        if class.modifies {
                            self.failures.insert(number, "failed-at-resource");
                            self.conflicts.insert(norm(&mapped.dn));
                        }
                    }
                    Found::One(at) => {
                        if class.modifies {
                            let partial = if moddn || entering { None } else { Some(changed.as_slice()) };
                            self.update(uuid, c, &at, &mapped, partial);
                        }
                    }
                    Found::None if entering => {
                        if class.creates {
                            self.create(uuid, c, mapped);
                        }
                    }
                    Found::None => {
                        self.failures.insert(number, "no-match-found");
                    }
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
enum Kind {
    Add,
    Modify(Vec<String>),
    /// The attributes are none; the old DN.
    ModDn(Vec<String>, String),
    Delete,
}

// ---------------------------------------------------------------------------------------------------------
// The run.

fn person(dn: &str, e: &NewEntry, n: usize) -> Entry {
    let mut x = Entry::new(dn);
    x.add("objectClass", if e.person { "inetOrgPerson" } else { "person" });
    x.add("cn", format!("Name {n}").as_str());
    x.add("sn", format!("Sn{n}").as_str());
    if let Some(s) = e.staff {
        x.add("employeeType", if s { "staff" } else { "contractor" });
    }
    if let Some(d) = e.dept1 {
        x.add("departmentNumber", if d { "1" } else { "2" });
    }
    if e.description {
        x.add("description", "first");
    }
    x
}

/// A change to make at the source; returns the changed entry's unique id.
type SourceChange = Box<dyn FnOnce() -> Result<String, String>>;

struct Run {
    h: Harness,
    crashed: bool,
    rounds: usize,
}

impl Run {
    async fn drain(&mut self, crash_ms: Option<u8>) -> Result<(), String> {
        self.rounds += 1;
        if crash_ms.is_some() {
            self.crashed = true;
        }
        self.h
            .run_until_drained(crash_ms.map(|m| Duration::from_millis(m as u64)), Duration::from_secs(60))
            .await
            .map_err(|e| e.to_string())
    }
}

/// Runs one case; `Err` says how the engine disagreed with the model.
pub async fn run_case(pipe: &Pipe, steps: &[Step], faults: bool, seed: u64) -> Result<(), String> {
    let source = SourceDirectory::new(SUFFIX, &[SUFFIX]);
    let plan = FaultPlan::seeded(seed);
    let destination = FakeDestination::new("dst", SUFFIX, &[SUFFIX], plan.clone());
    let mut seeded = BTreeSet::new();
    for ou in OUS.iter().chain(["users"].iter()) {
        let dn = format!("ou={ou},{SUFFIX}");
        let mut e = Entry::new(&dn);
        e.add("objectClass", "organizationalUnit");
        if *ou != "users" {
            source.seed(e.clone()).map_err(|e| e.to_string())?;
        }
        destination.seed(e).map_err(|e| e.to_string())?;
        seeded.insert(norm(&dn));
    }
    seeded.insert(norm(SUFFIX));
    let h = Harness::new(&pipe.batch(), "p", source.clone(), destination.clone(), plan.clone())
        .map_err(|e| format!("configuration: {e}"))?;
    h.set_start_point("0").map_err(|e| e.to_string())?;
    if faults {
        for op in [
            Op::DestCorrelate,
            Op::DestFetch,
            Op::DestCreate,
            Op::DestModify,
            Op::DestRename,
            Op::DestDelete,
            Op::SourceFetch,
            Op::Poll,
        ] {
            plan.probability(op, 0.03, Fault::Unavailable);
        }
        // A busy or timing-out destination (issue 15): the change waits, it is neither skipped nor failed.
        for op in [Op::DestCorrelate, Op::DestFetch, Op::DestCreate, Op::DestModify, Op::DestRename, Op::DestDelete] {
            plan.probability(op, 0.02, Fault::Retryable);
        }
        plan.probability(Op::DestModify, 0.01, Fault::Timeout(Duration::from_millis(3)));
        plan.probability(Op::Poll, 0.3, Fault::ShortPage(1));
        plan.probability(Op::SourceFetchMany, 0.3, Fault::Retryable);
    }
    let mut run = Run { h, crashed: false, rounds: 0 };
    let mut model = Model::new(pipe);
    // The entries and DNs changed since the pipe last drained: a second change to one waits for a drain, so
    // that each change is applied to the entry as that change left it.
    let mut touched: HashSet<String> = HashSet::new();
    let mut n = 0usize;
    for step in steps {
        n += 1;
        let people: Vec<Entry> = source.entries().into_iter().filter(|e| e.has("uid")).collect();
        let pick = |t: u8| (!people.is_empty()).then(|| people[t as usize % people.len()].clone());
        let uid_taken = |uid: &str| people.iter().any(|p| p.texts("uid").iter().any(|u| u.eq_ignore_ascii_case(uid)));
        // What the step touches: unique ids and DNs.
        let mut keys: Vec<String> = Vec::new();
        let plan_step: Option<(Kind, SourceChange)>;
        let mut readd: Option<(String, NewEntry)> = None;
        match step.clone() {
            Step::Drain { crash_ms } => {
                run.drain(crash_ms).await?;
                touched.clear();
                continue;
            }
            Step::Add { ou, uid, entry } => {
                let uid = format!("u{uid}");
                let dn = format!("uid={uid},ou={},{SUFFIX}", OUS[ou as usize]);
                if uid_taken(&uid) {
                    continue;
                }
                keys.push(norm(&dn));
                let s = source.clone();
                let e = person(&dn, &entry, n);
                plan_step = Some((Kind::Add, Box::new(move || s.add(e).map_err(|e| e.to_string()))));
            }
            Step::Modify { target, attr } => {
                let Some(e) = pick(target) else { continue };
                let (name, value): (&str, Option<String>) = match attr {
                    Attr::EmployeeType(v) => {
                        ("employeeType", v.map(|s| if s { "staff" } else { "contractor" }.to_string()))
                    }
                    Attr::Dept(v) => ("departmentNumber", v.map(|d| if d { "1" } else { "2" }.to_string())),
                    Attr::Description(v) => ("description", v.map(|d| format!("description {d}"))),
                    Attr::Cn(v) => ("cn", Some(format!("Name {v}"))),
                    Attr::Sn(v) => ("sn", Some(format!("Sn{v}"))),
                };
                let m = match value {
                    Some(v) => Modification::Replace(name.to_string(), vec![Value::from(v.as_str())]),
                    None if e.has(name) => Modification::Delete(name.to_string(), Vec::new()),
                    None => continue,
                };
                let uuid = e.first_text("entryUUID").unwrap_or_default();
                keys.push(uuid.clone());
                keys.push(norm(&e.dn));
                let s = source.clone();
                let dn = e.dn.clone();
                plan_step = Some((
                    Kind::Modify(vec![name.to_string()]),
                    Box::new(move || s.modify(&dn, &[m]).map(|_| uuid).map_err(|e| e.to_string())),
                ));
            }
            Step::Rename { target, uid } => {
                let Some(e) = pick(target) else { continue };
                let uid = format!("u{uid}");
                if uid_taken(&uid) {
                    continue;
                }
                let ou = ou_of(&e.dn).unwrap_or_default();
                let new_dn = format!("uid={uid},ou={ou},{SUFFIX}");
                let uuid = e.first_text("entryUUID").unwrap_or_default();
                keys.extend([uuid.clone(), norm(&e.dn), norm(&new_dn)]);
                let s = source.clone();
                let dn = e.dn.clone();
                plan_step = Some((
                    Kind::ModDn(Vec::new(), dn.clone()),
                    Box::new(move || s.rename(&dn, &new_dn).map(|_| uuid).map_err(|e| e.to_string())),
                ));
            }
            Step::Move { target, ou } => {
                let Some(e) = pick(target) else { continue };
                let new_dn = format!("uid={},ou={},{SUFFIX}", rdn_uid(&e.dn), OUS[ou as usize]);
                if norm(&new_dn) == norm(&e.dn) {
                    continue;
                }
                let uuid = e.first_text("entryUUID").unwrap_or_default();
                keys.extend([uuid.clone(), norm(&e.dn), norm(&new_dn)]);
                let s = source.clone();
                let dn = e.dn.clone();
                plan_step = Some((
                    Kind::ModDn(Vec::new(), dn.clone()),
                    Box::new(move || s.rename(&dn, &new_dn).map(|_| uuid).map_err(|e| e.to_string())),
                ));
            }
            Step::Delete { target } | Step::ReAdd { target, .. } => {
                let Some(e) = pick(target) else { continue };
                let uuid = e.first_text("entryUUID").unwrap_or_default();
                keys.extend([uuid.clone(), norm(&e.dn)]);
                let s = source.clone();
                let dn = e.dn.clone();
                if let Step::ReAdd { entry, .. } = step {
                    readd = Some((e.dn.clone(), entry.clone()));
                }
                plan_step =
                    Some((Kind::Delete, Box::new(move || s.delete(&dn).map(|_| uuid).map_err(|e| e.to_string()))));
            }
        }
        let Some((kind, act)) = plan_step else { continue };
        if keys.iter().any(|k| touched.contains(k)) {
            run.drain(None).await?;
            touched.clear();
        }
        touched.extend(keys);
        let uuid = act()?;
        let number = source.last_change_number();
        let uuid = if matches!(kind, Kind::Add) {
            source.log().last().map(|c| c.unique_id.clone()).unwrap_or_default()
        } else {
            uuid
        };
        let after = source.get_by_unique_id(&uuid).map(|e| SEntry::from(&e));
        model.apply(number, kind, &uuid, after.as_ref());
        if let Some((dn, entry)) = readd {
            run.drain(None).await?;
            touched.clear();
            let id = source.add(person(&dn, &entry, n)).map_err(|e| e.to_string())?;
            touched.insert(id.clone());
            touched.insert(norm(&dn));
            let after = source.get_by_unique_id(&id).map(|e| SEntry::from(&e));
            model.apply(source.last_change_number(), Kind::Add, &id, after.as_ref());
        }
    }
    run.drain(None).await?;
    if let Some(why) = &model.unpredictable {
        eprintln!("not checked: {why}");
        return Ok(());
    }
    check(&run, &model, &destination, &seeded)
}

fn check(run: &Run, model: &Model<'_>, destination: &FakeDestination, seeded: &BTreeSet<String>) -> Result<(), String> {
    let mut problems = Vec::new();
    // The destination equals the model.
    let actual: BTreeMap<String, Entry> =
        destination.entries().into_iter().map(|e| (norm(&e.dn), e)).filter(|(k, _)| !seeded.contains(k)).collect();
    for (dn, m) in &model.dest {
        let Some(a) = actual.get(dn) else {
            problems.push(format!("missing at the destination: {dn}"));
            continue;
        };
        let names: BTreeSet<String> =
            m.attrs.keys().cloned().chain(a.attribute_names().map(|n| n.to_ascii_lowercase())).collect();
        for attr in names {
            let have: Option<BTreeSet<String>> =
                a.get(&attr).map(|x| x.values.iter().map(value_key).collect::<BTreeSet<_>>()).filter(|s| !s.is_empty());
            let want = m.state(&attr);
            if !want.contains(&have) {
                problems.push(format!("{dn}: {attr} is {have:?}, the model expects one of {want:?}"));
            }
        }
    }
    for dn in actual.keys().filter(|k| !model.dest.contains_key(*k)) {
        problems.push(format!("at the destination but not in the model: {dn}"));
    }
    // Exactly the expected failures were logged.
    let log = run.h.failed_ops();
    let mut failed: BTreeMap<u64, String> = BTreeMap::new();
    let mut current = None;
    for line in log.lines() {
        if let Some((_, rest)) = line.split_once("changeNumber=") {
            current = rest.split_whitespace().next().and_then(|n| n.trim_matches('"').parse::<u64>().ok());
        } else if let Some(r) = line.trim().strip_prefix("result: ") {
            if let Some(n) = current {
                failed.insert(n, r.split(':').next().unwrap_or(r).to_string());
            }
        }
    }
    let expected: BTreeMap<u64, String> = model.failures.iter().map(|(n, r)| (*n, r.to_string())).collect();
    if failed != expected {
        problems.push(format!("failed-ops log: {failed:?}, the model expects {expected:?}\n{log}"));
    }
    // Nothing applied twice in effect.
    for w in destination.writes() {
        match (&w.op, &w.result) {
            (_, Ok(())) => {}
            (WriteOp::Create(e), Err(why)) if why.contains("already exists") => {
                let dn = norm(&e.dn);
                if !run.crashed && !model.orphans.contains(&dn) && !model.taken.contains(&dn) {
                    problems.push(format!("a create met an entry the pipe made, without a crash: {} ({why})", e.dn));
                }
            }
            (WriteOp::Rename(_, to), Err(why))
                if why.contains("already exists") && model.conflicts.contains(&norm(to)) => {}
            (op, Err(why)) => problems.push(format!("the destination refused {op:?}: {why}")),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{}\nsync log:\n{}", problems.join("\n"), run.h.sync_log()))
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(32),
        max_shrink_iters: 2000,
        failure_persistence: Some(Box::new(proptest::test_runner::FileFailurePersistence::Direct(
            "tests/model.proptest-regressions",
        ))),
        .. ProptestConfig::default()
    })]

    #[test]
    fn the_destination_converges_to_the_model(
        pipe in pipe(),
        steps in prop::collection::vec(step(), 1..24),
        faults in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let rt = runtime();
        let r = rt.block_on(run_case(&pipe, &steps, faults, seed));
        prop_assert!(r.is_ok(), "{}\nconfiguration:\n{}", r.err().unwrap_or_default(), pipe.batch());
    }
}
