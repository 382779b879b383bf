use chrono::{TimeZone, Utc};

use super::*;

const TEMPLATE: &str = r#"
Parameters:
  ContactCentreTimeZone:
    Type: String
    Default: Australia/Sydney
Resources:
  BusinessHours:
    Type: AWS::Connect::HoursOfOperation
    Properties:
      Name: Business Hours
      TimeZone: !Ref ContactCentreTimeZone
      Config:
        - {Day: MONDAY, StartTime: {Hours: 8, Minutes: 0}, EndTime: {Hours: 18, Minutes: 0}}
        - {Day: TUESDAY, StartTime: {Hours: 8, Minutes: 30}, EndTime: {Hours: 18, Minutes: 0}}
  BillingQueue:
    Type: AWS::Connect::Queue
    Condition: Whatever
    Properties:
      Name: BillingQueue
      HoursOfOperationArn: !GetAtt BusinessHours.HoursOfOperationArn
  AgentRoutingProfile:
    Type: AWS::Connect::RoutingProfile
    Properties:
      Name: Switchboard Agents
      QueueConfigs:
        - {Priority: 1, Delay: 0, QueueReference: {Channel: VOICE, QueueArn: !GetAtt BillingQueue.QueueArn}}
        - {Priority: 1, Delay: 0, QueueReference: {Channel: CHAT, QueueArn: !GetAtt BillingQueue.QueueArn}}
  PlaybackProfile:
    Type: AWS::Connect::SecurityProfile
    Properties:
      SecurityProfileName: RecordingPlayback
  Team:
    Type: AWS::Connect::UserHierarchyGroup
    Properties:
      Name: Sydney video team
      ParentGroupArn: !GetAtt Apac.UserHierarchyGroupArn
  Apac:
    Type: AWS::Connect::UserHierarchyGroup
    Properties:
      Name: APAC
  Bot:
    Type: AWS::Lex::Bot
    Properties:
      Name: !Sub '${AWS::StackName}-CustomerService'
      BotLocales:
        - LocaleId: en_AU
          SlotTypes:
            - Name: DeviceType
              SlotTypeValues:
                - SampleValue: {Value: modem}
                - SampleValue: {Value: router}
                  Synonyms: [{Value: wifi}]
          Intents:
            - Name: Billing
              SampleUtterances:
                - Utterance: I have a billing question
                - Utterance: pay account {AccountNumber}
              Slots:
                - {Name: AccountNumber, SlotTypeName: AMAZON.Number}
            - Name: TechnicalSupport
              SampleUtterances:
                - Utterance: my internet is down
                - Utterance: help with my {Device}
              Slots:
                - {Name: Device, SlotTypeName: DeviceType}
            - Name: FallbackIntent
              ParentIntentSignature: AMAZON.FallbackIntent
  BotAlias:
    Type: AWS::Lex::BotAlias
    Properties:
      BotId: !Ref Bot
      BotAliasName: live
  BotAssociation:
    Type: AWS::Connect::IntegrationAssociation
    Properties:
      IntegrationType: LEX_BOT
      IntegrationArn: !GetAtt BotAlias.Arn
  GreetingModule:
    Type: AWS::Connect::ContactFlowModule
    Properties:
      Name: Greeting
      Content: '{"Version": "2019-10-30", "StartAction": "a", "Actions": []}'
  ExampleNumber:
    Type: AWS::Connect::PhoneNumber
    Condition: ClaimPhoneNumbers
    Metadata:
      Switchboard: {LocalNumber: '+61255503000'}
    Properties:
      Type: DID
  ContactFlows:
    Type: Custom::ContactFlows
    Properties:
      Bots:
        CustomerService: !GetAtt BotAlias.Arn
      PhoneNumbers: !If
        - ClaimPhoneNumbers
        - Example_Main: !Ref ExampleNumber
        - !Ref AWS::NoValue
"#;

fn pseudo() -> Pseudo {
    Pseudo {
        stack_name: "switchboard-local".into(),
        region: "ap-southeast-2".into(),
        account_id: "123456789012".into(),
    }
}

fn instance() -> DeclaredInstance {
    DeclaredInstance::from_template(TEMPLATE, &pseudo()).unwrap()
}

#[test]
fn the_declared_resources_join_connects_own_by_name() {
    let instance = instance();
    assert_eq!(instance.queues.keys().collect::<Vec<_>>(), ["BasicQueue", "BillingQueue"]);
    assert_eq!(instance.queue_hours("BillingQueue").unwrap().time_zone, "Australia/Sydney", "a parameter's default");
    assert_eq!(instance.queue_hours("BasicQueue").unwrap().name, "Basic Hours");
    assert_eq!(instance.routing_profiles["Switchboard Agents"], ["BillingQueue"], "one entry per queue");
    assert!(instance.security_profiles.contains("RecordingPlayback") && instance.security_profiles.contains("Agent"));
    let groups: Vec<_> = instance.hierarchy_groups.iter().map(|g| (g.name.as_str(), g.parent.as_deref())).collect();
    assert_eq!(groups, [("APAC", None), ("Sydney video team", Some("APAC"))], "parents first");
    assert!(instance.prompts.contains("Beep.wav"));
    assert!(instance.modules["Greeting"].contains("2019-10-30"), "a module the template declares");
}

#[test]
fn bots_are_named_as_the_flows_name_them_and_numbers_start_their_flows() {
    let instance = instance();
    let bot = &instance.bots["CustomerService"];
    assert_eq!(bot.name, "switchboard-local-CustomerService");
    assert!(bot.alias_arn.starts_with("arn:aws:lex:ap-southeast-2:123456789012:bot-alias/"), "{}", bot.alias_arn);
    assert_eq!(instance.associated_bots, std::slice::from_ref(&bot.alias_arn));
    assert_eq!(instance.phone_numbers["+61255503000"], "Example_Main", "the !If's branch that has the map");
}

#[test]
fn local_ids_are_stable_and_differ_by_kind_and_name() {
    assert_eq!(local_id("queue", "BillingQueue"), local_id("queue", "BillingQueue"));
    assert_ne!(local_id("queue", "BillingQueue"), local_id("queue", "SupportQueue"));
    assert_ne!(local_id("queue", "X"), local_id("prompt", "X"));
    assert_eq!(local_id("queue", "X").len(), 36);
}

#[test]
fn hours_are_read_in_their_own_time_zone() {
    let hours = instance().hours["Business Hours"].clone();
    // Monday 09:00 in Sydney (UTC+10 in June) is Sunday 23:00 UTC.
    assert!(hours.is_open(Utc.with_ymd_and_hms(2026, 6, 7, 23, 0, 0).unwrap()).unwrap());
    // Monday 07:59 Sydney: closed; Monday 18:00: closed (the end is not open).
    assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 6, 7, 21, 59, 0).unwrap()).unwrap());
    assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 6, 8, 8, 0, 0).unwrap()).unwrap());
    // Tuesday opens at 08:30.
    assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 6, 8, 22, 15, 0).unwrap()).unwrap());
    assert!(hours.is_open(Utc.with_ymd_and_hms(2026, 6, 8, 22, 30, 0).unwrap()).unwrap());
    // Saturday: closed.
    assert!(!hours.is_open(Utc.with_ymd_and_hms(2026, 6, 13, 2, 0, 0).unwrap()).unwrap());
    // An opening past midnight: Friday 22:00 to Saturday 02:00 (UTC).
    use chrono::Weekday::Fri;
    let late = HoursOfOperation {
        name: "Late".into(),
        time_zone: "UTC".into(),
        openings: vec![Opening { day: Fri, start: 22 * 60, end: 2 * 60 }],
    };
    assert!(late.is_open(Utc.with_ymd_and_hms(2026, 6, 12, 23, 0, 0).unwrap()).unwrap(), "Friday 23:00");
    assert!(late.is_open(Utc.with_ymd_and_hms(2026, 6, 13, 1, 59, 0).unwrap()).unwrap(), "Saturday 01:59");
    assert!(!late.is_open(Utc.with_ymd_and_hms(2026, 6, 13, 2, 0, 0).unwrap()).unwrap(), "Saturday 02:00");
    assert!(!late.is_open(Utc.with_ymd_and_hms(2026, 6, 12, 21, 59, 0).unwrap()).unwrap(), "Friday 21:59");
    assert!(!late.is_open(Utc.with_ymd_and_hms(2026, 6, 14, 1, 0, 0).unwrap()).unwrap(), "Sunday 01:00");
    let always = HoursOfOperation::always("Basic Hours");
    assert!(always.is_open(Utc.with_ymd_and_hms(2026, 6, 13, 2, 0, 0).unwrap()).unwrap());
}

#[test]
fn the_bot_matches_utterances_slots_and_near_misses() {
    let bot = instance().bots["CustomerService"].clone();
    let said = |words: &str| bot.recognise(words);
    assert_eq!(said("I have a billing question.").intent, "Billing");
    let account = said("Pay account 12345");
    assert_eq!((account.intent.as_str(), account.slots["AccountNumber"].as_str()), ("Billing", "12345"));
    let device = said("help with my wifi");
    assert_eq!(
        (device.intent.as_str(), device.slots["Device"].as_str()),
        ("TechnicalSupport", "router"),
        "a synonym fills its value"
    );
    assert_eq!(said("help with my modem").slots["Device"], "modem");
    assert_eq!(said("help with my toaster").intent, "TechnicalSupport", "no slot value, but most of the words");
    assert_eq!(said("my internet is down again").intent, "TechnicalSupport");
    assert_eq!(said("what is the weather").intent, FALLBACK_INTENT);
    // Filler words ("my", "is") do not make a match: the content words do.
    assert_eq!(said("my bill is wrong").intent, FALLBACK_INTENT, "no Billing utterance says bill here");
    assert_eq!(said("a billing problem").intent, "Billing");
    assert_eq!(said("is it down").intent, "TechnicalSupport");
    assert!(said("what is the weather").slots.is_empty());
}

#[test]
fn what_the_local_instance_cannot_read_is_an_error_naming_the_resource() {
    let broken = TEMPLATE
        .replace("HoursOfOperationArn: !GetAtt BusinessHours.HoursOfOperationArn", "HoursOfOperationArn: nowhere");
    let error = DeclaredInstance::from_template(&broken, &pseudo()).unwrap_err().to_string();
    assert!(error.contains("BillingQueue") && error.contains("!Ref or !GetAtt"), "{error}");
    let twice = TEMPLATE.replace("Name: APAC", "Name: Sydney video team");
    let error = DeclaredInstance::from_template(&twice, &pseudo()).unwrap_err().to_string();
    assert!(error.contains("two hierarchy groups are named Sydney video team"), "{error}");
    // A second alias of the bot: the flows' Bots names the first, which keeps its own ARN.
    let second_alias = TEMPLATE.replace(
        "  BotAssociation:\n",
        "  TestAlias:\n    Type: AWS::Lex::BotAlias\n    Properties:\n      BotId: !Ref Bot\n      BotAliasName: test\n  BotAssociation:\n",
    );
    let instance = DeclaredInstance::from_template(&second_alias, &pseudo()).unwrap();
    assert_eq!(instance.bots["CustomerService"].alias_arn, instance.associated_bots[0]);
    let no_number = TEMPLATE.replace("Switchboard: {LocalNumber: '+61255503000'}", "Other: 1");
    let error = DeclaredInstance::from_template(&no_number, &pseudo()).unwrap_err().to_string();
    assert!(error.contains("ExampleNumber") && error.contains("LocalNumber"), "{error}");
}
