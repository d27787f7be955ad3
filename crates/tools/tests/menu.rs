//! dsconfig's interactive menu, driven through a pseudo-terminal: create, view (with the equivalent command),
//! edit and delete objects; every change is visible to `dsconfig get-...-prop` and recorded in the audit log.

mod util;

use util::pty::Pty;
use util::Root;

#[test]
fn the_menu_creates_views_edits_and_deletes_objects() {
    let root = Root::new();
    // The store exists before the menu opens (a fresh root is created on first use either way).
    root.dsconfig(&["list-dn-maps"]).ok();
    let mut t = Pty::spawn("dsconfig", root.path(), &[]);

    // The main menu lists the object types by category; the unused ones only with the advanced toggle.
    t.expect("main menu");
    let menu = t.expect("Enter choice");
    assert!(menu.contains("Synchronization") && menu.contains("DN Map") && menu.contains("Sync Pipe"), "{menu}");
    assert!(!menu.contains("Root DN User"), "unused types are advanced: {menu}");
    t.session.send_line("a").unwrap();
    t.expect("main menu");
    let menu = t.expect("Enter choice");
    assert!(menu.contains("Root DN User") && menu.contains("Hide advanced"), "{menu}");
    t.session.send_line("a").unwrap();

    // Create a DN map, walking through its required properties.
    t.choose("main menu", "dn-map");
    t.choose("DN Map management menu", "2");
    t.answer("Name of the new DN Map", "m1");
    t.expect(">>>> Property from-dn-pattern");
    t.expect("Syntax: a DN pattern");
    t.answer("Value of from-dn-pattern", "*,ou=people,dc=example,dc=com");
    t.expect(">>>> Property to-dn-pattern");
    t.answer("Value of to-dn-pattern", "{1},ou=staff,dc=example,dc=com");
    t.choose("Configure the properties of the DN Map 'm1' (changes not applied yet)", "d");
    t.expect("dsconfig create-dn-map --map-name m1 --set 'from-dn-pattern:*,ou=people,dc=example,dc=com' --set 'to-dn-pattern:{1},ou=staff,dc=example,dc=com'");
    t.choose("Configure the properties", "f");
    t.expect("The DN Map 'm1' was created successfully");
    let out = root.dsconfig(&["get-dn-map-prop", "--map-name", "m1", "--property", "to-dn-pattern"]).ok();
    assert!(out.contains("{1},ou=staff,dc=example,dc=com"), "{out}");

    // View it, print the command that makes it, and edit its description.
    t.choose("DN Map management menu", "view");
    t.choose("Select the DN Map", "m1");
    t.choose("Configure the properties of the DN Map 'm1'", "d");
    t.expect("dsconfig create-dn-map --map-name m1 --set 'from-dn-pattern:*,ou=people,dc=example,dc=com'");
    t.choose("Configure the properties", "description");
    t.choose("What to do with description", "set");
    t.answer("Value of description", "people to staff");
    t.choose("(changes not applied yet)", "d");
    t.expect("dsconfig set-dn-map-prop --map-name m1 --set 'description:people to staff'");
    t.choose("Configure the properties", "f");
    t.expect("The DN Map 'm1' was modified successfully");
    let out = root.dsconfig(&["get-dn-map-prop", "--map-name", "m1", "--property", "description"]).ok();
    assert!(out.contains("people to staff"), "{out}");
    t.choose("Configure the properties", "b");

    // Delete it.
    t.choose("DN Map management menu", "delete");
    t.choose("Select the DN Map", "m1");
    t.answer("Delete the DN Map 'm1'?", "yes");
    t.expect("The DN Map 'm1' was deleted successfully");
    let err = root.dsconfig(&["get-dn-map-prop", "--map-name", "m1"]).fails();
    assert!(err.contains("does not exist"), "{err}");
    t.choose("DN Map management menu", "b");

    // A type with --type variants, a value refused by its syntax, a password that is never shown.
    t.choose("main menu", "external-server");
    t.choose("External Server management menu", "create");
    t.answer("Name of the new External Server", "ldap1");
    t.choose("Select the type of the External Server", "generic-ldap");
    t.expect(">>>> Property server-host-name");
    t.answer("Value of server-host-name", "ldap.example.com");
    t.choose("Configure the properties", "server-port");
    t.expect("Syntax: an integer from 1 to 65535");
    t.choose("What to do with server-port", "set");
    t.answer("Value of server-port", "abc");
    t.expect("'abc' is not an integer");
    t.session.send_line("70000").unwrap();
    t.expect("out of range");
    t.session.send_line("1389").unwrap();
    t.choose("Configure the properties", "password");
    t.choose("What to do with password", "set");
    t.answer("Value of password", "s3cret-value");
    t.choose("Configure the properties", "d");
    t.expect("--set 'password:*****'");
    t.choose("Configure the properties", "f");
    t.expect("The External Server 'ldap1' was created successfully");
    t.choose("External Server management menu", "b");
    t.choose("main menu", "q");
    assert_eq!(t.finish(), 0, "{}", t.seen);
    assert!(!t.seen.contains("s3cret-value"), "the password was shown:\n{}", t.seen);

    let out = root.dsconfig(&["get-external-server-prop", "--server-name", "ldap1"]).ok();
    assert!(out.contains("server-port") && out.contains("1389") && out.contains("*****"), "{out}");
    assert!(!out.contains("s3cret-value"));
    // The menu's changes went through dsconfig's code path, audit log included.
    let audit = std::fs::read_to_string(root.path().join("logs/config-audit.log")).unwrap();
    for line in [
        "dsconfig create-dn-map --map-name m1",
        "dsconfig set-dn-map-prop --map-name m1 --set 'description:people to staff'",
        "dsconfig delete-dn-map --map-name m1",
        "dsconfig create-external-server --server-name ldap1 --type generic-ldap",
    ] {
        assert!(audit.contains(line), "{line} missing from the audit log:\n{audit}");
    }
    assert!(!audit.contains("s3cret-value"));
}

#[test]
fn child_types_ask_for_their_parent_and_singletons_open_directly() {
    let root = Root::new();
    root.dsconfig(&["list-attribute-maps"]).ok();
    let mut t = Pty::spawn("dsconfig", root.path(), &[]);
    // A child type without a parent object says so.
    t.choose("main menu", "attribute-mapping");
    t.choose("Attribute Mapping management menu", "create");
    t.expect("There are no Attribute Maps: create one first.");
    t.choose("Attribute Mapping management menu", "b");
    t.choose("main menu", "attribute-map");
    t.choose("Attribute Map management menu", "create");
    t.answer("Name of the new Attribute Map", "am");
    t.choose("Configure the properties", "f");
    t.expect("was created successfully");
    t.choose("Attribute Map management menu", "b");
    t.choose("main menu", "attribute-mapping");
    t.choose("Attribute Mapping management menu", "create");
    t.choose("Select the Attribute Map", "am");
    t.answer("Name of the new Attribute Mapping", "mail");
    t.choose("Select the type of the Attribute Mapping", "direct");
    t.expect(">>>> Property from-attribute");
    t.answer("Value of from-attribute", "not an attribute!");
    t.expect("is not an attribute name");
    t.session.send_line("uid").unwrap();
    t.choose("Configure the properties", "f");
    t.expect("The Attribute Mapping 'mail' of Attribute Map 'am' was created successfully");
    t.choose("Attribute Mapping management menu", "b");
    // A singleton goes straight to its properties.
    t.choose("main menu", "global-sync-configuration");
    t.choose("Configure the properties of the Global Sync Configuration", "b");
    t.choose("main menu", "q");
    assert_eq!(t.finish(), 0, "{}", t.seen);
    let out = root.dsconfig(&["get-attribute-mapping-prop", "--map-name", "am", "--mapping-name", "mail"]).ok();
    assert!(out.contains("from-attribute") && out.contains("uid"), "{out}");
}

#[test]
fn without_a_terminal_there_is_no_menu() {
    let root = Root::new();
    let run = root.dsconfig(&[]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(run.stderr().contains("no subcommand given"), "{}", run.stderr());
    // --no-prompt keeps the usage error on a terminal too.
    let mut t = Pty::spawn("dsconfig", root.path(), &["--no-prompt"]);
    t.expect("no subcommand given");
    assert_eq!(t.finish(), 2);
}

/// Every object type of the model has its menu: its management menu (or, for a singleton, its properties)
/// opens, and a top-level type lists its objects.
#[test]
fn every_object_type_has_a_menu() {
    let root = Root::new();
    root.dsconfig(&["list-sync-pipes"]).ok();
    let mut t = Pty::spawn("dsconfig", root.path(), &["--advanced"]);
    for ty in ferrosync::model::OBJECT_TYPES {
        t.choose("main menu", ty.name);
        if ty.singleton {
            t.choose(&format!("Configure the properties of the {}", ty.display), "b");
            continue;
        }
        let title = format!("{} management menu", ty.display);
        if ty.parent.is_none() {
            t.choose(&title, "list");
            let listed = t.expect(&title);
            let has_builtin = root.config().all(ty.name).first().map(|o| o.name().to_string());
            match has_builtin {
                Some(name) => assert!(listed.contains(&name), "{}: {listed}", ty.name),
                None => assert!(listed.contains(&format!("There are no {}s", ty.display)), "{}: {listed}", ty.name),
            }
            t.answer("Enter choice", "b");
        } else {
            t.choose(&title, "b");
        }
    }
    t.choose("main menu", "q");
    assert_eq!(t.finish(), 0, "{}", t.seen);
}
