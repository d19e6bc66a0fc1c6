use super::*;
use proptest::prelude::*;

fn triage_of(text: &str) -> Triage {
    triage(text, None, &TriageRules::default())
}

#[test]
fn an_outage_complaint_is_high() {
    let t = triage_of(
        "@acme_care there's an outage in my area AGAIN, nothing loads. 3rd time this week",
    );
    assert_eq!(t.intent, Intent::Complaint);
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.urgent_terms, vec!["outage"]);
    assert_eq!(t.reasons, vec!["urgent words: outage"]);
    assert_eq!(t.language.as_deref(), Some("en"));
    assert_eq!(t.followers, None);
}

#[test]
fn a_gas_leak_is_urgent() {
    let t = triage_of(
        "@acme_energy I can smell gas in the hallway, is there a gas leak on our street?",
    );
    assert_eq!(t.priority, Priority::Urgent);
    assert_eq!(t.urgent_terms, vec!["gas leak"]);
    assert_eq!(t.reasons, vec!["safety words: gas leak"]);
}

#[test]
fn thanks_are_praise_and_low() {
    let t = triage_of("Thanks @acme, great service!");
    assert_eq!(t.intent, Intent::Praise);
    assert_eq!(t.priority, Priority::Low);
    assert!(t.sentiment >= 0.5, "{}", t.sentiment);
    assert!(t.urgent_terms.is_empty());
    assert_eq!(t.reasons, vec!["praise"]);
}

#[test]
fn thanks_with_a_request_or_a_but_are_no_praise() {
    assert_eq!(
        triage_of("@acme please help me reset my password, thanks!").intent,
        Intent::Question
    );
    assert_eq!(
        triage_of("I love @acme but my order never arrived").intent,
        Intent::Complaint
    );
}

#[test]
fn a_plain_question_is_normal() {
    let t = triage_of("@acme how do I change the address on my account?");
    assert_eq!(t.intent, Intent::Question);
    assert_eq!(t.priority, Priority::Normal);
    // No word carries feeling, so the question mark does not make it negative.
    assert_eq!(t.sentiment, 0.0);
    assert!(t.urgent_terms.is_empty());
    assert!(t.reasons.is_empty());
}

#[test]
fn a_question_that_reports_a_problem_is_a_complaint() {
    assert_eq!(
        triage_of("@acme why can't I log in?").intent,
        Intent::Complaint
    );
}

#[test]
fn spam_and_empty_messages_are_noise() {
    for text in [
        "Follow me for a free iPhone giveaway!!! https://spam.example/x",
        "Vintage teapot, hand painted https://ebay.us/abc via @eBay",
        "https://a.example/1 https://b.example/2 https://c.example/3 wow",
        "@acme @acme_care 🙂🙂 https://t.co/x",
        "",
        "   ",
        "12 34!!",
    ] {
        let t = triage_of(text);
        assert_eq!(t.intent, Intent::Noise, "{text:?}");
        assert_eq!(t.priority, Priority::Low, "{text:?}");
        assert_eq!(t.reasons, vec!["noise"], "{text:?}");
    }
}

#[test]
fn a_report_quoting_a_few_links_is_no_spam() {
    let t = triage_of(
        "a phishing site pretending to be our bank is hosted by you at http://a.example, \
         the same page is on http://b.example and http://c.example and you ignore our reports",
    );
    assert_ne!(t.intent, Intent::Noise);
}

#[test]
fn reach_raises_one_level() {
    let rules = TriageRules::default();
    let text = "@acme how do I change the address on my account?";
    let t = triage(text, Some(120_000), &rules);
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.followers, Some(120_000));
    assert_eq!(t.reasons, vec!["reach: 120000 followers"]);

    assert_eq!(triage(text, Some(9_999), &rules).priority, Priority::Normal);
    assert_eq!(
        triage("Thanks @acme, great service!", Some(50_000), &rules).priority,
        Priority::Normal
    );
    assert_eq!(
        triage("follow me for a giveaway", Some(50_000), &rules).priority,
        Priority::Low
    );
    let gas = "gas leak in our building, please send someone";
    assert_eq!(triage(gas, Some(50_000), &rules).priority, Priority::Urgent);
}

#[test]
fn a_very_negative_complaint_is_high() {
    let t = triage_of("@acme this is the worst, most useless and disgusting service. I hate you");
    assert_eq!(t.intent, Intent::Complaint);
    assert!(t.sentiment <= -0.5, "{}", t.sentiment);
    assert_eq!(t.priority, Priority::High);
    assert_eq!(
        t.reasons,
        vec![format!("very negative ({:.2})", t.sentiment)]
    );
}

#[test]
fn spanish_is_told() {
    let t = triage_of(
        "@acme_care Hola, mi internet no funciona desde ayer y nadie me responde a los mensajes. \
         ¿Pueden ayudarme por favor? Estoy muy cansada de esperar.",
    );
    assert_eq!(t.language.as_deref(), Some("es"));
}

#[test]
fn curly_apostrophes_read_as_straight_ones() {
    let t = triage_of("I can’t call anyone and there’s no signal at home");
    assert_eq!(t.urgent_terms, vec!["can't call", "no signal"]);
    assert_eq!(t.priority, Priority::High);
}

#[test]
fn ambiguous_words_do_not_raise() {
    for text in [
        "Your new store manager is so down to earth, he was down the street helping people",
        "Why does the app shut down when I hold down the shift key?",
        "Watching my shows on Fire TV, the firewall settings page is confusing",
        "Masks are needed in hospitals, not on resale sites",
    ] {
        let t = triage_of(text);
        assert!(t.urgent_terms.is_empty(), "{text:?}: {:?}", t.urgent_terms);
    }
    assert_eq!(
        triage_of("are the servers down?").urgent_terms,
        vec!["down"]
    );
}

#[test]
fn an_account_adds_its_own_urgent_words() {
    let rules = TriageRules {
        extra_urgent_terms: vec!["Checkout".into(), "pay-by-link".into()],
        ..TriageRules::default()
    };
    let t = triage(
        "the checkout page will not load, pay by link fails too",
        None,
        &rules,
    );
    assert_eq!(t.urgent_terms, vec!["checkout", "pay by link"]);
    assert_eq!(t.priority, Priority::High);
}

#[test]
fn rules_may_leave_anything_out() {
    let rules: TriageRules = serde_json::from_str("{}").unwrap();
    assert_eq!(rules, TriageRules::default());
    let rules: TriageRules = serde_json::from_str(r#"{"negative": -0.3}"#).unwrap();
    assert_eq!(rules.negative, -0.3);
    assert_eq!(rules.high_reach_followers, 10_000);
    assert!(serde_json::from_str::<TriageRules>(r#"{"negatve": -0.3}"#).is_err());
}

#[test]
fn intent_is_snake_case() {
    assert_eq!(
        serde_json::to_string(&Intent::Complaint).unwrap(),
        r#""complaint""#
    );
    assert_eq!(Intent::Noise.as_str(), "noise");
}

/// Issue 14: a long message of long words once gave terms of any length and number.
#[test]
fn topic_terms_are_bounded_in_length_and_number() {
    let long = "x".repeat(MAX_TERM_BYTES + 1);
    let words: Vec<String> = (0..40)
        .map(|i| {
            format!(
                "word{}",
                "abcdefghijklmnopqrstuvwxyz"
                    .chars()
                    .nth(i % 26)
                    .unwrap()
                    .to_string()
                    .repeat(1 + i / 26)
            )
        })
        .collect();
    let text = format!("internet {long} {}", words.join(" "));
    let terms = topic_terms(&text);
    assert_eq!(terms.len(), MAX_TOPIC_TERMS);
    assert!(terms.iter().all(|t| t.len() <= MAX_TERM_BYTES), "{terms:?}");
    assert!(!terms.contains(&long));
    assert!(topic_terms(&"é".repeat(13)).is_empty());
}

#[test]
fn topic_terms_are_stemmed_key_words() {
    assert_eq!(
        topic_terms("@acme_care my internet is DOWN again!! https://t.co/x"),
        vec!["down", "internet"]
    );
    assert_eq!(
        topic_terms("Outages everywhere!!! My phone has no signal since 9am #outage 😡"),
        vec!["9am", "everywher", "outag", "phone", "signal"]
    );
    // Time and courtesy words are in every complaint: never a topic.
    assert_eq!(
        topic_terms("Help! My app crashed again since last week, thanks for nothing"),
        vec!["app", "crash", "noth"]
    );
    assert_eq!(
        topic_terms("@acme 🙂 123 https://t.co/x"),
        Vec::<String>::new()
    );
    assert_eq!(topic_terms(""), Vec::<String>::new());
}

#[test]
fn ten_kilobytes_are_fine() {
    let text = "my internet is down again 😡 @acme https://x.example/y ¿qué? ".repeat(200);
    assert!(text.len() > 10_000);
    let t = triage_of(&text);
    assert_eq!(t.urgent_terms, vec!["down"]);
    assert_eq!(topic_terms(&text), vec!["down", "internet", "qué"]);
}

proptest! {
    #[test]
    fn never_panics(text in any::<String>(), followers in any::<Option<u64>>()) {
        let t = triage(&text, followers, &TriageRules::default());
        prop_assert!((-1.0..=1.0).contains(&t.sentiment));
        let _ = topic_terms(&text);
    }

    #[test]
    fn never_panics_on_words_of_care(
        words in proptest::collection::vec(
            prop_oneof![
                Just("down"), Just("can't"), Just("call"), Just("?"), Just("!!!"), Just("@acme"),
                Just("https://t.co/x"), Just("via"), Just("’"), Just("😡"), Just("great"),
                Just("not"), Just("gas"), Just("leak"), Just("thanks"), Just("but"), Just("ñ"),
            ],
            0..40,
        )
    ) {
        let text = words.join(" ");
        let _ = triage(&text, None, &TriageRules::default());
        let _ = topic_terms(&text);
    }
}
