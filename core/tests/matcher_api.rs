//! The Rust API of the matcher: builder, subscribers, router, explanations, SNS export.

use sqs_mega::matcher::dsl::*;
use sqs_mega::matcher::{
    compile_pattern_json, compile_pattern_json_with, Callbacks, PatternId, PayloadKind, Router,
    Rules, Syntax,
};
use sqs_mega::{json, value, Value};

fn seed_event() -> Value {
    value!({
        "protocol": "mega",
        "version": "1",
        "event": {
            "domain": "user",
            "name": "user:login:web",
            "version": 1,
            "timestamp": "2020-06-12T17:29:58.000",
            "subject": "987650",
            "publisher": "login-api",
            "attributes": {"email": "johndoe_86@example.com", "success": true, "attempts": 4}
        },
        "object": {
            "type": "user",
            "id": "987650",
            "version": 2,
            "current": {"id": 987650, "username": "john-doe", "email": "johndoe_86@example.com",
                        "created_at": "2020-03-28T15:23:01"}
        }
    })
}

#[test]
fn builder_expresses_the_seed_user_login_subscriber() {
    let user_login = Rules::event([
        ("domain", Into::<sqs_mega::matcher::Expr>::into("user")),
        ("name", matches(r"user:login:(.*)")),
        ("version", any_()),
        ("subject", matches(r"^\d+$")),
        (
            "attributes",
            map([("success", true.into()), ("attempts", gt(2))]),
        ),
        ("object_type", "user".into()),
        ("object_version", one_of([1, 2, 3])),
        (
            "object_current",
            map([
                ("email", not_(empty())),
                ("username", not_(["test", "synthetic"])),
                ("created_at", gte(date(2020, 1, 1))),
            ]),
        ),
    ])
    .compile()
    .unwrap();
    assert_eq!(user_login.kind(), PayloadKind::Event);
    let event = seed_event();
    assert!(user_login.matches(&event));
    let mut synthetic = event.clone();
    *synthetic.get_path_mut_for_test("object.current.username") = "synthetic".into();
    assert!(!user_login.matches(&synthetic));
    let why = user_login.explain(&synthetic).unwrap();
    assert_eq!(why.path, "object.current.username");
    assert_eq!(why.actual.as_deref(), Some("\"synthetic\""));
    assert_eq!(
        why.to_string(),
        "at object.current.username: expected not_([\"test\", \"synthetic\"]), got \"synthetic\""
    );
}

trait PathMut {
    fn get_path_mut_for_test(&mut self, path: &str) -> &mut Value;
}
impl PathMut for Value {
    fn get_path_mut_for_test(&mut self, path: &str) -> &mut Value {
        let mut v = self;
        for part in path.split('.') {
            v = v.as_map_mut().unwrap().get_mut(part).unwrap();
        }
        v
    }
}

#[test]
fn between_five_and_ten() {
    let p = and_([gt(5), not_(gt(10))]).compile().unwrap();
    assert!(p.matches(&Value::Int(7)));
    assert!(!p.matches(&Value::Int(2)));
    assert!(!p.matches(&Value::Int(13)));
    assert_eq!(p.explain(&Value::Int(13)).unwrap().expected, "not_(gt(10))");
    assert_eq!(p.to_string(), "and_(gt(5), not_(gt(10)))");
}

#[test]
fn closures_are_callbacks_and_panics_are_non_matches() {
    let p = map([(
        "n",
        func("odd", |v: &Value| v.as_i64().is_some_and(|i| i % 2 == 1)),
    )])
    .compile()
    .unwrap();
    assert!(p.matches(&value!({"n": 3})));
    assert!(!p.matches(&value!({"n": 4})));
    assert_eq!(p.explain(&value!({"n": 4})).unwrap().expected, "fn(odd)");

    std::panic::set_hook(Box::new(|_| {}));
    let boom = func("boom", |_: &Value| -> bool { panic!("boom") })
        .compile()
        .unwrap();
    let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| boom.matches(&Value::Null)));
    let _ = std::panic::take_hook();
    assert_eq!(
        ok.ok(),
        Some(false),
        "a panicking callback is a non-match, not a crash"
    );
}

#[test]
fn callbacks_are_resolved_by_id_at_compile_time() {
    let mut cb = Callbacks::new();
    cb.insert("has_template", |v: &Value| {
        v.as_str().is_some_and(|s| s.starts_with("tpl_"))
    });
    let text = r#"{"user": {"template": {"$fn": "has_template"}}}"#;
    let p = compile_pattern_json_with(text, Syntax::Mega, &cb).unwrap();
    assert!(p.matches(&value!({"user": {"template": "tpl_welcome"}})));
    assert!(!p.matches(&value!({"user": {"template": "welcome"}})));
    let err = compile_pattern_json(text, Syntax::Mega).unwrap_err();
    assert_eq!(err.path, "/user/template/$fn");
    assert!(err.message.contains("has_template"), "{err}");
}

#[test]
fn builder_errors_point_at_the_path() {
    let err = map([("a", map([("b", and_([gt(1)]))]))])
        .compile()
        .unwrap_err();
    assert_eq!(err.path, "/a/b/$and");
    let err = map([("a", gt(Value::List(vec![])))]).compile().unwrap_err();
    assert_eq!(err.path, "/a/$gt");
    assert_eq!(
        err.to_string(),
        "invalid pattern at /a/$gt: gt needs a number, string, date or date-time operand, got a list"
    );
    let err = compile_pattern_json("{not json", Syntax::Mega).unwrap_err();
    assert_eq!(err.path, "/");
    let err = Rules::event([("colour", eq("red"))]).compile().unwrap_err();
    assert_eq!(err.path, "/colour");
}

#[test]
fn syntax_names_parse() {
    assert_eq!("mega".parse::<Syntax>(), Ok(Syntax::Mega));
    assert_eq!("EventBridge".parse::<Syntax>(), Ok(Syntax::EventBridge));
    assert!("sns".parse::<Syntax>().is_err());
}

#[test]
fn patterns_are_shareable_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<sqs_mega::matcher::Pattern>();
    assert_send_sync::<Router>();
}

fn event(domain: &str, name: &str, attrs: Value) -> Value {
    value!({"protocol": "mega", "version": 1, "event": {"domain": (domain), "name": (name), "attributes": (attrs)}})
}

#[test]
fn router_returns_every_match_in_registration_order() {
    let mut r = Router::new();
    let added = r.add(
        Rules::event([("domain", "cart"), ("name", "item.added")])
            .compile()
            .unwrap(),
    );
    let any_cart = r.add(Rules::event([("domain", "cart")]).compile().unwrap());
    let big = r.add(
        Rules::event([
            ("name", one_of(["item.added", "item.removed"])),
            ("attributes", map([("quantity", gt(10))])),
        ])
        .compile()
        .unwrap(),
    );
    let all_events = r.add(Rules::Event(vec![]).compile().unwrap());
    let data = r.add(Rules::data(map([("type", "x")])).compile().unwrap());
    let all_data = r.add(Rules::Data(None).compile().unwrap());
    let plain = r
        .add(compile_pattern_json(r#"{"event": {"name": "item.removed"}}"#, Syntax::Mega).unwrap());
    assert_eq!(r.len(), 7);

    assert_eq!(
        r.matches(&event("cart", "item.added", value!({"quantity": 20}))),
        vec![added, any_cart, big, all_events]
    );
    assert_eq!(
        r.matches(&event("cart", "item.removed", value!({"quantity": 1}))),
        vec![any_cart, all_events, plain]
    );
    assert_eq!(r.matches(&event("shop", "x", value!({}))), vec![all_events]);
    assert_eq!(r.matches(&value!({"type": "x"})), vec![data, all_data]);
    assert_eq!(r.matches(&value!("text")), vec![all_data]);
    // A name that is not a string bypasses the index but still matches correctly.
    let odd = value!({"protocol": "mega", "event": {"domain": "cart", "name": 5}});
    assert_eq!(r.matches(&odd), vec![any_cart, all_events]);
    // EventBridge patterns match inside lists: the index must not hide them.
    let mut eb = Router::new();
    let by_name =
        eb.add(compile_pattern_json(r#"{"event": {"name": ["a"]}}"#, Syntax::EventBridge).unwrap());
    let listed = value!({"event": [{"name": "b"}, {"name": "a"}]});
    assert_eq!(eb.matches(&listed), vec![by_name]);
    assert_eq!(
        eb.matches(&value!({"event": {"name": ["b", "a"]}})),
        vec![by_name]
    );
    assert_eq!(eb.matches(&value!({"event": {"name": "a"}})), vec![by_name]);
    assert!(eb.matches(&value!({"event": {"name": "b"}})).is_empty());
    assert_eq!(
        r.explain(added, &event("cart", "item.removed", value!({})))
            .unwrap()
            .path,
        "event.name"
    );
    assert!(r.explain(PatternId(99), &odd).is_none());
}

#[test]
fn router_index_agrees_with_a_linear_scan() {
    let names = ["a", "b", "c", "d"];
    let domains = ["x", "y"];
    let mut r = Router::new();
    let mut patterns = Vec::new();
    for i in 0..60usize {
        let mut rules = Vec::new();
        match i % 4 {
            0 => rules.push(("name", eq(names[i % 4]))),
            1 => rules.push(("event_name", one_of([names[i % 3], names[(i + 1) % 4]]))),
            2 => rules.push(("domain", eq(domains[i % 2]))),
            _ => {}
        }
        if i % 3 == 0 {
            rules.push(("attributes", map([("n", gt((i % 5) as i64))])));
        }
        let p = Rules::event(rules).compile().unwrap();
        patterns.push(p.clone());
        r.add(p);
    }
    let mut checked = 0;
    for name in names.iter().chain(&["zz"]) {
        for domain in domains.iter().chain(&["zz"]) {
            for n in 0..6 {
                let payload = event(domain, name, value!({"n": n}));
                let linear: Vec<PatternId> = patterns
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| p.matches(&payload))
                    .map(|(i, _)| PatternId(i as u32))
                    .collect();
                assert_eq!(r.matches(&payload), linear, "{payload:?}");
                checked += linear.len();
            }
        }
    }
    assert!(
        checked > 100,
        "the comparison exercised too few matches ({checked})"
    );
}

#[test]
fn sns_export_of_a_fully_expressible_pattern() {
    let p = compile_pattern_json(
        r#"{"$event": {"domain": "shopping_cart", "name": {"$one_of": ["item.added", "item.removed"]},
            "attributes": {"quantity": {"$and": [{"$gte": 1}, {"$lt": 100}]}, "sku": {"$prefix": "SKU-"},
                           "coupon": {"$exists": false}, "state": {"$not": ["test", "draft"]}}}}"#,
        Syntax::Mega,
    )
    .unwrap();
    let export = p.to_sns_filter_policy();
    assert!(export.is_complete(), "{:?}", export.omitted);
    assert_eq!(
        export.policy_json().unwrap(),
        r#"{"event":{"name":["item.added","item.removed"],"domain":["shopping_cart"],"attributes":{"quantity":[{"numeric":[">=",1,"<",100]}],"sku":[{"prefix":"SKU-"}],"coupon":[{"exists":false}],"state":[{"anything-but":["test","draft"]}]}}}"#
    );
    assert!(export
        .notes
        .iter()
        .any(|n| n.contains("numbers sent as strings")));
    assert!(
        export.notes.iter().any(|n| n.contains("at most 5")),
        "{:?}",
        export.notes
    );
}

#[test]
fn sns_export_says_what_it_leaves_out() {
    let p = compile_pattern_json(
        r#"{"type": {"$match": "user:notification:(.*)"}, "user": {"id": {"$gt": 0},
            "template": {"$wildcard": "tpl_*"}, "created": {"$gte": {"$date": "2020-01-01"}}}}"#,
        Syntax::Mega,
    )
    .unwrap();
    let export = p.to_sns_filter_policy();
    assert!(!export.is_complete());
    assert_eq!(
        export.policy_json().unwrap(),
        r#"{"type":[{"prefix":"user:notification:"}],"user":{"id":[{"numeric":[">",0]}]}}"#
    );
    let omitted: Vec<(&str, &str)> = export
        .omitted
        .iter()
        .map(|o| (o.path.as_str(), o.condition.as_str()))
        .collect();
    assert_eq!(
        omitted,
        vec![
            ("type", "match(\"user:notification:(.*)\")"),
            ("user.template", "wildcard(\"tpl_*\")"),
            ("user.created", "gte(date(2020-01-01))"),
        ]
    );
    let nothing = func("f", |_: &Value| true)
        .compile()
        .unwrap()
        .to_sns_filter_policy();
    assert!(nothing.policy.is_none());
    assert_eq!(nothing.omitted.len(), 1);
}

#[test]
fn eventbridge_patterns_export_back_to_sns() {
    let text = r#"{"detail":{"state":[{"anything-but":["x"]}],"n":[{"numeric":[">",0,"<=",5]}]},"$or":[{"a":["1"]},{"b":[{"prefix":"p"}]}]}"#;
    let p = compile_pattern_json(text, Syntax::EventBridge).unwrap();
    let export = p.to_sns_filter_policy();
    assert!(export.is_complete(), "{:?}", export.omitted);
    let back = export.policy.unwrap();
    assert_eq!(back, json::parse(text).unwrap());
}

#[test]
fn value_conversions_build_patterns() {
    let p = sqs_mega::matcher::Expr::from(value!({"a": [1, 2], "b": {"c": null}}))
        .compile()
        .unwrap();
    assert!(p.matches(&value!({"a": 2, "b": {"c": null, "d": 1}})));
    assert!(!p.matches(&value!({"a": 3, "b": {"c": null}})));
}
