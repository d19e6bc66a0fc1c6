//! The examples in docs/events.md are what the code sends: each reads as a `DomainEvent` and
//! writes back the same, and every type has one.

use socialcare_domain::domain_events::DomainEvent;

fn examples() -> Vec<serde_json::Value> {
    let doc =
        std::fs::read_to_string(socialcare_tests::repo_root().join("docs/events.md")).unwrap();
    let section = doc
        .split("## One of each")
        .nth(1)
        .expect("docs/events.md has its examples")
        .split("\n## ")
        .next()
        .unwrap();
    section
        .split("```json\n")
        .skip(1)
        .map(|block| {
            let json = block.split("\n```").next().unwrap();
            serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {json}"))
        })
        .collect()
}

#[test]
fn every_documented_example_is_an_event_the_code_sends() {
    let examples = examples();
    let mut types = Vec::new();
    for example in &examples {
        let event: DomainEvent =
            serde_json::from_value(example.clone()).unwrap_or_else(|e| panic!("{e}: {example}"));
        assert_eq!(
            &serde_json::to_value(&event).unwrap(),
            example,
            "written back the same"
        );
        assert_eq!(example["type"], event.body.kind());
        types.push(event.body.kind());
    }
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "customer.erased",
            "customer.merged",
            "incident.opened",
            "incident.resolved",
            "incident.updated",
            "message.received",
            "reply.failed",
            "reply.sent",
            "satisfaction.rated",
            "sla.breached",
            "sla.warning",
            "ticket.assigned",
            "ticket.created",
            "ticket.status_changed",
        ],
        "one of each type"
    );
}
