use super::*;
use crate::shared::connect_user::placement;
use time::macros::datetime;

#[test]
fn the_same_group_or_an_ancestor_at_the_viewers_level_may_view() {
    let sydney = placement("syd", "2", &["apac", "syd"]);
    let melbourne = placement("mel", "2", &["apac", "mel"]);
    let apac = placement("apac", "1", &["apac"]);
    let emea = placement("emea", "1", &["emea"]);
    assert!(may_view(Some(&sydney), Some(&sydney)));
    assert!(may_view(Some(&apac), Some(&sydney)), "the manager above");
    assert!(!may_view(Some(&melbourne), Some(&sydney)), "another branch");
    assert!(!may_view(Some(&emea), Some(&sydney)));
    assert!(!may_view(Some(&sydney), Some(&apac)), "below the owner is not above");
    assert!(may_view(None, None), "both without a group");
    assert!(!may_view(None, Some(&sydney)));
    assert!(!may_view(Some(&sydney), None));
}

#[test]
fn file_names_are_dated_and_the_meeting_id_is_reduced_to_safe_characters() {
    let at = datetime!(2026-12-05 09:07:03.5 UTC);
    assert_eq!(
        file_name("Case #12 (Zoë)/a.b_c-d", "r-1", at),
        "RECORDINGS/2026/12/05/09/Case12Zoa.b_c-d_r-1_20261205T090703_UTC.mp4"
    );
}

#[test]
fn ascii_json_escapes_everything_beyond_ascii() {
    let text = ascii_json(&serde_json::json!({"a": "Zoë 🙂", "b": "plain"})).unwrap();
    assert!(text.is_ascii());
    assert_eq!(text, r#"{"a":"Zo\u00eb \ud83d\ude42","b":"plain"}"#);
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back["a"], "Zoë 🙂");
}

#[test]
fn recordings_round_trip_through_their_item() {
    let now = datetime!(2026-12-05 09:00 UTC);
    let record = RecordingRecord {
        recording_id: "r-1".into(),
        external_meeting_id: "ext-1".into(),
        chime_meeting_id: "m-1".into(),
        owner_username: "alice".into(),
        owner_group: Some(placement("syd", "2", &["apac", "syd"])),
        bucket: "b".into(),
        file_name: "RECORDINGS/x.mp4".into(),
        created_at: rfc3339(now),
        task_arn: None,
        bot_attendee_id: Some("a-1".into()),
        ended_at: None,
        segmented: true,
    };
    let item = record.to_item(now);
    assert_eq!(store::get_str(&item, "sk"), Some("REC#r-1"));
    assert_eq!(store::get_str(&item, "recordingLayout"), Some("SEGMENTS"));
    assert_eq!(RecordingRecord::from_item("ext-1", &item).unwrap(), record);
    assert_eq!(store::get_i64(&item, "ttl"), Some((now + RECORDING_TTL).unix_timestamp()));

    // An item written before segments has no layout: a single file.
    let mut legacy = item.clone();
    legacy.remove("recordingLayout");
    let read = RecordingRecord::from_item("ext-1", &legacy).unwrap();
    assert!(!read.segmented);
    assert_eq!(RecordingRecord { segmented: true, ..read }, record);
    let single = RecordingRecord { segmented: false, ..record };
    assert!(!single.to_item(now).contains_key("recordingLayout"));
    legacy.insert("recordingLayout".into(), store::s("TAPE"));
    assert!(RecordingRecord::from_item("ext-1", &legacy).is_err(), "a layout this code does not know");
}

/// The recorder's sample manifest (`recorder/contract/`): both sides are held to it.
fn example_manifest() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../recorder/contract/manifest.example.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn parsed(manifest: &serde_json::Value, prefix: &str) -> Manifest {
    parse_manifest(manifest.to_string().as_bytes(), prefix).unwrap()
}

#[test]
fn the_recorders_example_manifest_parses_into_its_stored_segments_and_the_missing_one() {
    let example = example_manifest();
    let file_name = example["recordingFileName"].as_str().unwrap();
    let prefix = segment_prefix(file_name);
    assert_eq!(prefix, example["prefix"].as_str().unwrap(), "the recorder's prefix is ours");
    assert_eq!(manifest_key(file_name), format!("{prefix}manifest.json"));
    let manifest = parsed(&example, &prefix);
    let ms = time::Duration::milliseconds;
    assert_eq!(
        manifest.segments,
        [
            Segment { number: 1, key: format!("{prefix}segment-00001.mp4"), start: ms(0), end: ms(300_033) },
            Segment { number: 3, key: format!("{prefix}segment-00003.mp4"), start: ms(600_067), end: ms(731_500) },
        ]
    );
    assert_eq!(manifest.missing, [2]);
    assert!(!manifest.complete, "state incomplete");
    assert!(manifest.rejected.is_empty());
    assert_eq!(manifest.started_at, Some(datetime!(2026-12-05 09:07:05.120 UTC)));
}

#[test]
fn segment_times_count_from_the_capture_start_when_it_is_plausible() {
    let created = datetime!(2026-12-05 09:07:03 UTC);
    let began = datetime!(2026-12-05 09:07:11.5 UTC);
    assert_eq!(segments_start(created, Some(began)), began);
    assert_eq!(segments_start(created, None), created);
    // A few seconds early is clock skew; an hour early or two days late is not this recording's.
    let skewed = created - time::Duration::seconds(5);
    assert_eq!(segments_start(created, Some(skewed)), skewed);
    assert_eq!(segments_start(created, Some(created - time::Duration::HOUR)), created);
    assert_eq!(segments_start(created, Some(created + time::Duration::days(2))), created);
}

#[test]
fn a_segment_key_outside_the_recordings_prefix_is_rejected_and_counted_missing() {
    let mut example = example_manifest();
    let prefix = segment_prefix(example["recordingFileName"].as_str().unwrap());
    let other = "RECORDINGS/2026/12/05/09/Case-12_0b6c5a4e-7d0f-4c55-9d7e-2f1b3a4c5d6e_20261205T090703_UTC-x/";
    example["segments"][1]["key"] = format!("{other}segment-00003.mp4").into();
    let manifest = parsed(&example, &prefix);
    assert_eq!(manifest.segments.iter().map(|s| s.number).collect::<Vec<_>>(), [1]);
    assert_eq!(manifest.rejected, [RejectedSegment { number: 3, reason: "its key is outside the recording's prefix" }]);
    assert_eq!(manifest.missing, [2, 3]);
    // Inside the prefix but not the segment's own name (another object, or a path that climbs out).
    for key in ["segment-00001.mp4", "../other/segment-00003.mp4", "manifest.json", "segment-3.mp4"] {
        example["segments"][1]["key"] = format!("{prefix}{key}").into();
        let manifest = parsed(&example, &prefix);
        assert_eq!(manifest.segments.len(), 1, "{key}");
        assert_eq!(manifest.rejected.len(), 1, "{key}");
    }
}

#[test]
fn manifests_ignore_unknown_fields_and_list_gaps_and_bad_segments_as_missing() {
    let prefix = "RECORDINGS/x/";
    let segment = |number: u32, start: f64, end: f64| {
        serde_json::json!({"number": number, "key": segment_key(prefix, number), "startSeconds": start,
            "endSeconds": end, "bytes": 1, "codec": "h264", "future": {"a": [1]}})
    };
    let manifest = serde_json::json!({
        "version": 2, "state": "complete", "unknown": true,
        "segments": [segment(4, 900.0, 1200.0), segment(1, 0.0, 300.0), segment(1, 0.0, 300.0),
                     segment(6, -1.0, 10.0), segment(7, 1e300, 1e301), segment(8, 20.0, 10.0),
                     segment(0, 0.0, 1.0), segment(100_000, 0.0, 1.0)],
    });
    let parsed = parsed(&manifest, prefix);
    assert!(parsed.complete);
    assert_eq!(parsed.segments.iter().map(|s| s.number).collect::<Vec<_>>(), [1, 4], "by number");
    let rejected: Vec<(u32, &str)> = parsed.rejected.iter().map(|r| (r.number, r.reason)).collect();
    assert_eq!(
        rejected,
        [
            (1, "its number is listed twice"),
            (6, "its times are out of range"),
            (7, "its times are out of range"),
            (8, "its times are out of range"),
            (0, "its number is out of range"),
            (100_000, "its number is out of range"),
        ]
    );
    assert_eq!(parsed.missing, [2, 3, 5, 6, 7, 8], "gaps and refused segments; 1 is stored");
    assert!(parse_manifest(br#"{"state": "recording"}"#, prefix).is_err(), "no segments list");
    assert!(parse_manifest(b"not json", prefix).is_err());
    let empty = parse_manifest(br#"{"state": "recording", "segments": []}"#, prefix).unwrap();
    assert_eq!((empty.segments.len(), empty.missing.len(), empty.complete), (0, 0, false));
}

#[test]
fn a_recordings_prefix_is_its_file_name_without_the_extension() {
    let file = file_name("case-1", "r-1", datetime!(2026-12-05 09:07:03 UTC));
    assert_eq!(segment_prefix(&file), "RECORDINGS/2026/12/05/09/case-1_r-1_20261205T090703_UTC/");
    assert_eq!(
        segment_key(&segment_prefix(&file), 12),
        "RECORDINGS/2026/12/05/09/case-1_r-1_20261205T090703_UTC/segment-00012.mp4"
    );
}
