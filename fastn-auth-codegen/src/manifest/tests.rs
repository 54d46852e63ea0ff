//! The schema's rules and errors, each with its position.

use super::*;

fn error(yaml: &str) -> (String, Option<(usize, usize)>) {
    let err = parse(yaml).unwrap_err();
    (err.message, err.position)
}

#[test]
fn a_full_manifest_in_order() {
    let manifest = parse(
        "version: 1\nconnectors:\n  salesforce:\n    extra:\n      instanceUrl: url\n      tags: list<string>?\n      \
         team:\n        type: string\n        optional: true\n        description: Team\n  google-sheets:\n    auth: api_key\n    \
         org_id: acme\n    name: Sheets\n",
    )
    .unwrap();
    let [salesforce, sheets] = &manifest.connectors[..] else { panic!("two connectors") };
    assert_eq!((salesforce.id.as_str(), salesforce.name.as_str()), ("salesforce", "Salesforce"));
    let fields: Vec<_> = salesforce
        .extra
        .iter()
        .map(|f| (f.key.as_str(), f.field.as_str(), f.ty.to_string(), f.optional))
        .collect();
    assert_eq!(
        fields,
        [
            ("instanceUrl", "instance_url", "url".to_owned(), false),
            ("tags", "tags", "list<string>".to_owned(), true),
            ("team", "team", "string".to_owned(), true)
        ]
    );
    assert_eq!(salesforce.extra[2].description.as_deref(), Some("Team"));
    assert_eq!(
        (sheets.name.as_str(), sheets.auth, sheets.org_id.as_deref()),
        ("Sheets", Auth::ApiKey, Some("acme"))
    );
}

#[test]
fn unknown_keys_name_the_allowed_ones_at_their_position() {
    let (message, position) = error("version: 1\nconnectors:\n  slack:\n    descripton: x\n");
    assert!(
        message.contains("unknown field `descripton`, expected one of `description`, `auth`"),
        "{message}"
    );
    assert_eq!(position, Some((4, 5)));
    let (message, _) = error("version: 1\nconnectors: {}\nextra: 1\n");
    assert!(message.contains("unknown field `extra`"), "{message}");
}

#[test]
fn api_blocks_are_checked_against_the_fields_at_their_position() {
    let manifest = |extra: &str, api: &str| {
        format!("version: 1\nconnectors:\n  acme:\n    extra:\n{extra}    api:\n{api}")
    };
    let ok = parse(&manifest(
        "      instance_url: url\n      key: secret\n",
        "      base_url: \"{instance_url}/v1\"\n      headers: { Accept: application/json }\n      token: { header: X-Key, prefix: \"Key \", from: key }\n",
    ))
    .unwrap();
    let api = ok.connectors[0].api.clone().unwrap();
    assert_eq!(api.headers, [("Accept".into(), "application/json".into())]);
    assert_eq!(api.token, TokenPlacement::header("X-Key", "Key ", "key"));
    for (extra, api, expected, line) in [
        (
            "      instance_url: url\n",
            "      base_url: \"{instance_ur}/v1\"\n",
            "did you mean `instance_url`",
            7,
        ),
        ("      n: integer\n", "      base_url: \"https://{n}.example\"\n", "of type integer", 7),
        ("      n: string\n", "      base_url: \"http://{n}.example\"\n", "must start with https://", 7),
        (
            "      n: string\n",
            "      base_url: https://a.example\n      token: { query: k, prefix: x }\n",
            "goes with `header`",
            8,
        ),
        (
            "      n: string\n",
            "      base_url: https://a.example\n      token: bearr\n",
            "not a token placement",
            8,
        ),
        (
            "      n: string?\n",
            "      base_url: https://a.example\n      token: { header: K, from: n }\n",
            "of type string?",
            8,
        ),
        (
            "      n: string\n",
            "      base_url: https://a.example\n      token: { header: \"K:\" }\n",
            "not an HTTP header name",
            8,
        ),
    ] {
        let (message, position) = error(&manifest(extra, api));
        assert!(message.contains(expected) && message.contains("acme.api."), "{message}");
        assert_eq!(position.map(|(line, _)| line), Some(line), "{message}");
    }
}

#[test]
fn unknown_types_list_the_types() {
    let (message, position) = error("version: 1\nconnectors:\n  slack:\n    extra:\n      team: strng\n");
    assert!(
        message.contains("unknown type `strng` (did you mean `string`?), expected one of: string, secret"),
        "{message}"
    );
    assert_eq!(position, Some((5, 13)));
    let (message, _) = error("version: 1\nconnectors:\n  a:\n    extra:\n      t: list<strng>?\n");
    assert!(message.contains("unknown type `strng`"), "{message}");
    let (message, _) = error("version: 1\nconnectors:\n  a:\n    extra:\n      t:\n        type: url?\n");
    assert!(message.contains("optional: true"), "{message}");
}

#[test]
fn ids_that_give_no_or_the_same_name() {
    let (message, position) = error("version: 1\nconnectors:\n  google-sheets: {}\n  google_sheets: {}\n");
    assert!(
        message.contains("`google-sheets` and `google_sheets` both give the Rust name `GoogleSheets`"),
        "{message}"
    );
    assert_eq!(position, Some((4, 3)));
    let (message, _) = error("version: 1\nconnectors:\n  '---': {}\n");
    assert!(message.contains("gives no Rust identifier"), "{message}");
    let (message, _) = error("version: 1\nconnectors:\n  '': {}\n");
    assert!(message.contains("it is empty"), "{message}");
    let (message, position) = error("version: 1\nconnectors:\n  a: {name: B}\n  b: {}\n");
    assert!(message.contains("`a` and `b` both give the Rust name `B`"), "{message}");
    assert_eq!(position, Some((4, 3)));
    let (message, _) = error("version: 1\nconnectors:\n  connector-id: {}\n");
    assert!(message.contains("a name the macro itself uses"), "{message}");
    let (message, _) = error("version: 1\nconnectors:\n  a: {}\n  a-extra: {}\n");
    assert!(message.contains("`a` and `a-extra` both give the Rust name `AExtra`"), "{message}");
}

#[test]
fn field_keys_that_collide_or_shadow_common_fields() {
    let (message, position) =
        error("version: 1\nconnectors:\n  a:\n    extra:\n      instanceUrl: url\n      instance_url: url\n");
    assert!(
        message.contains("`instance_url` gives the field name `instance_url`, which another key"),
        "{message}"
    );
    assert_eq!(position, Some((6, 7)));
    let (message, _) = error("version: 1\nconnectors:\n  a:\n    extra:\n      accessToken: secret\n");
    assert!(message.contains("common credential field"), "{message}");
}

#[test]
fn a_clash_resolved_by_name_is_accepted_whichever_side_sets_it() {
    for yaml in [
        "version: 1\nconnectors:\n  google-sheets: {name: Sheets}\n  google_sheets: {}\n",
        "version: 1\nconnectors:\n  google-sheets: {}\n  google_sheets: {name: Sheets}\n",
        "version: 1\nconnectors:\n  google-sheets: {name: Sheets}\n  google_sheets: {name: Sheets2}\n",
    ] {
        let manifest = parse(yaml).unwrap_or_else(|err| panic!("{yaml}: {err:?}"));
        let names: Vec<&str> = manifest.connectors.iter().map(|c| c.name.as_str()).collect();
        assert!(names.contains(&"Sheets") && names.len() == 2, "{names:?}");
    }
}

#[test]
fn near_misses_are_named() {
    let (message, _) = error("version: 1\nconnectors:\n  slack:\n    extra:\n      team: strng\n");
    assert!(message.contains("unknown type `strng` (did you mean `string`?)"), "{message}");
    let (message, _) = error("version: 1\nconnectors:\n  slack:\n    extra:\n      team: String\n");
    assert!(message.contains("(did you mean `string`?)"), "{message}");
    let (message, position) = error("version: 1\nconnectors:\n  slack:\n    extr:\n      team: string\n");
    assert!(
        message.contains("unknown field `extr`") && message.contains("(did you mean `extra`?)"),
        "{message}"
    );
    assert_eq!(position, Some((4, 5)));
    let (message, _) = error("version: 1\nconnectors:\n  slack:\n    auth: oauth\n");
    assert!(message.contains("(did you mean `oauth2`?)"), "{message}");
    let (message, _) = error("version: 1\nconnectors:\n  slack:\n    zzzzzz: 1\n");
    assert!(!message.contains("did you mean"), "nothing near: {message}");
    let (message, position) = error("version: 1\nconnectors:\n  slack:\n\textra: {}\n");
    assert_eq!(
        (message.as_str(), position),
        ("a tab in the indentation: YAML indents with spaces only", Some((4, 1)))
    );
    let (message, _) = error("connectors: {}\n");
    assert!(message.ends_with("add `version: 1` as the first line"), "{message}");
}

/// What a manifest from an untrusted source cannot do: hang the parser, overflow the
/// stack, grow without bound, or print text a terminal would obey.
// Long as a table is long: one case per hostile manifest, each with its expected error.
#[test]
fn hostile_manifests_get_positioned_bounded_errors() {
    type Case = (String, &'static str, Option<(usize, usize)>);
    let cases: Vec<Case> = vec![
        (
            format!("version: 1\nconnectors: {}", "{".repeat(100_000)),
            "nested more than 10 levels",
            Some((2, 22)),
        ),
        (
            format!("version: 1\nconnectors: {}", "[".repeat(100_000)),
            "nested more than 10 levels",
            Some((2, 22)),
        ),
        (
            (0..12).fold(String::from("version: 1\n"), |mut yaml, level| {
                yaml.push_str(&format!("{}k{level}:\n", " ".repeat(level * 2)));
                yaml
            }),
            "nested more than 10 levels",
            Some((12, 21)),
        ),
        (
            format!(
                "version: 1\nconnectors:\n  a:\n    extra:\n      t: {}string{}\n",
                "list<".repeat(100_000),
                ">".repeat(100_000)
            ),
            "`list<…>` nested more than 8 deep",
            Some((5, 10)),
        ),
        (
            format!(
                "version: 1\nconnectors:\n  a:\n    extra:\n      t: {}string{}\n",
                "list<".repeat(9),
                ">".repeat(9)
            ),
            "nested more than 8 deep",
            Some((5, 10)),
        ),
        (
            "version: 1\nconnectors:\n  \"a\\nb\": {}\n".into(),
            "connector id \"a\\nb\" cannot be used: it contains a control character",
            Some((3, 3)),
        ),
        (
            "version: 1\nconnectors:\n  \"a\\0b\": {}\n".into(),
            "cannot be used: it contains a control character",
            Some((3, 3)),
        ),
        (
            "version: 1\nconnectors:\n  \"evil\\u202Etxt\": {}\n".into(),
            "\"evil\\u{202e}txt\" cannot be used: it contains a bidirectional",
            Some((3, 3)),
        ),
        (
            "version: 1\nconnectors:\n  a: {org_id: \"\"}\n".into(),
            "`org_id: \"\"` cannot be sent: it is empty",
            Some((3, 6)),
        ),
        (
            "version: 1\nconnectors:\n  a: {org_id: \"..\"}\n".into(),
            "is not a usable path segment",
            Some((3, 6)),
        ),
        (
            format!("version: 1\nconnectors:\n  {}: {{}}\n", "x".repeat(600)),
            "600 bytes long, more than 512",
            Some((3, 3)),
        ),
        (
            (0..=MAX_CONNECTORS).fold(String::from("version: 1\nconnectors:\n"), |mut yaml, i| {
                yaml.push_str(&format!("  c{i}: {{}}\n"));
                yaml
            }),
            "more than 500 connectors",
            Some((503, 3)),
        ),
        (
            (0..=MAX_FIELDS).fold(
                String::from("version: 1\nconnectors:\n  a:\n    extra:\n"),
                |mut yaml, i| {
                    yaml.push_str(&format!("      f{i}: string\n"));
                    yaml
                },
            ),
            "more than 256 extra fields",
            Some((261, 7)),
        ),
        (
            format!("version: 1\nconnectors: [{}]\n", "1,".repeat(MAX_NODES)),
            "more than 100000 YAML nodes",
            Some((2, 1)),
        ),
    ];
    for (yaml, expected, position) in cases {
        let (message, at) = error(&yaml);
        let head: String = yaml.chars().take(60).collect();
        assert!(message.contains(expected), "{head:?}: {message}");
        assert_eq!(at, position, "{head:?}: {message}");
        assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1, "{head:?}: {} chars", message.len());
        assert!(
            !message.chars().any(|c| c.is_control() || fastn_auth_rules::is_bidi_control(c)),
            "{message:?}"
        );
    }
    // Brackets inside text are text: a description may hold any number of them.
    let text = format!("{} and '{}'", "x[{,:[{,:y".repeat(100), "{".repeat(100));
    let yaml = format!("version: 1\nconnectors:\n  a:\n    description: {text}\n");
    assert_eq!(parse(&yaml).unwrap().connectors[0].description.as_deref(), Some(text.as_str()));
    // Many connectors of few fields, or few of many: the total is bounded too.
    let yaml = (0..=MAX_TOTAL_FIELDS / 100).fold(String::from("version: 1\nconnectors:\n"), |mut yaml, i| {
        yaml.push_str(&format!("  c{i}:\n    extra:\n"));
        (0..100).for_each(|j| yaml.push_str(&format!("      f{j}: string\n")));
        yaml
    });
    assert!(error(&yaml).0.contains("more than 5000 extra fields in all"));
}

#[test]
fn versions_syntax_and_hostile_documents() {
    let (message, _) = error("version: 2\nconnectors: {}\n");
    assert!(message.contains("unsupported manifest version 2, expected 1"), "{message}");
    let (message, _) = error("connectors: {}\n");
    assert!(message.contains("missing field `version`"), "{message}");
    let (_, position) = error("version: 1\nconnectors:\n  a: [\n");
    assert!(position.is_some());
    let nested = format!("version: 1\nconnectors: {}{}\n", "[".repeat(10_000), "]".repeat(10_000));
    assert!(parse(&nested).is_err());
    let mut laughs =
        String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
    for level in 1..9 {
        let prev = (b'a' + level - 1) as char;
        let name = (b'a' + level) as char;
        laughs.push_str(&format!(
            "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
        ));
    }
    laughs.push_str("version: 1\nconnectors: {}\n");
    // Expanded, these aliases would take minutes and gigabytes; refused, milliseconds.
    // Ten seconds of margin keeps a busy machine from failing it.
    let started = std::time::Instant::now();
    assert!(parse(&laughs).is_err());
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}
