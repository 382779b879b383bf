//! `switchboard-local`: run the local cloud, and play calls against it.
//!
//! - `switchboard-local up` starts moto, the emulator and the fleet, seeds them, writes the endpoints
//!   to `.local/cloud.json` and runs until Ctrl-C, when it stops every process it started.
//! - `switchboard-local call emergency/Emergency_Authentication --from +61412345678 --input auto`
//!   plays a flow against the running cloud and prints the transcript; `--channel chat` with
//!   `--attribute key=value` plays a chat (e.g. `video/VideoCallEscalationChat`).
//! - `switchboard-local flows plan` (or `apply`) deploys the working tree's `contact-flows/` into the
//!   emulated instance through `provision-flows` and prints the plan; `call --deployed
//!   Emergency_Authentication …` then plays what was deployed, by its real ARNs.
//! - `switchboard-local invoke check-emergency events/check-emergency/sydney.json` runs one function
//!   once with a sample event, as `sam local invoke` does but without Docker; `switchboard-local
//!   event stop-recording-on-meeting-end events/stop-recording-on-meeting-end/meeting-ended.json`
//!   delivers an EventBridge event the way the template's rule would.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{ExitCode, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use clap::{Parser, Subcommand, ValueEnum};
use switchboard_local::{
    cloud::{self, LocalCloud},
    cloud_file::{CloudFile, CloudFileError},
    desktop::DesktopOptions,
    emulator::{self, Sms},
    fixture::Fixture,
    flow::{Call, CallInput, Channel, FlowLibrary, Runner, Services},
    lambda_host::{FunctionProcess, FunctionSpec},
    repo_root,
};

type CommandResult = Result<ExitCode, Box<dyn std::error::Error>>;

#[derive(Parser)]
#[command(about = "Switchboard's local cloud: moto, the AWS emulator, the fleet and the flow runner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the local cloud in the foreground (Ctrl-C stops it).
    Up {
        /// What runs the functions: `host` (the debug binaries `cargo build` made, behind our Runtime
        /// API: ready at once) or `cargo-lambda` (`cargo lambda watch`: rebuilds on change, but the
        /// first call to each function compiles it and can outlast Connect's 8 s limit).
        #[arg(long, value_enum, default_value_t = Runtime::Host)]
        runtime: Runtime,
        #[arg(long, default_value_t = 9000)]
        lambda_port: u16,
    },
    /// Play a contact flow against the running local cloud.
    Call {
        /// `<context>/<Flow>`, e.g. `emergency/Emergency_Authentication`; left out, the flow the
        /// dialled number (`--to`) is associated with in template.yaml.
        flow: Option<String>,
        /// `voice` (a phone call: `--from` needed) or `chat` (prompts are messages, no numbers).
        #[arg(long, default_value = "voice")]
        channel: Channel,
        /// The caller's number (voice).
        #[arg(long)]
        from: Option<String>,
        /// The dialled number (voice).
        #[arg(long, default_value = "+61255501000")]
        to: String,
        /// Caller input, in order: DTMF digits, `auto` (the PIN from the latest SMS), or `-` (silence).
        #[arg(long = "input")]
        inputs: Vec<CallInput>,
        /// What the caller says when a bot listens, in order (repeatable).
        #[arg(long = "say")]
        said: Vec<String>,
        /// The clock the flows' hours are checked at (RFC 3339, e.g. 2026-12-07T09:30:00+11:00); now if left out.
        #[arg(long, value_parser = parse_time)]
        at: Option<chrono::DateTime<chrono::Utc>>,
        /// Real-time metric values, `Name=value` (repeatable), for CheckMetricData and GetMetricData.
        #[arg(long = "metric", value_parser = parse_pair)]
        metrics: Vec<(String, String)>,
        /// Initial contact attributes, `key=value` (repeatable).
        #[arg(long = "attribute", value_parser = parse_pair)]
        attributes: Vec<(String, String)>,
        /// Values for the flows' `{{param:<key>}}`, `key=value` (repeatable); others take their
        /// default from `contact-flows/flows.json`.
        #[arg(long = "parameter", value_parser = parse_pair)]
        parameters: Vec<(String, String)>,
        /// The customer leaves after this many messages; a queued contact with a customer queue flow
        /// waits in that flow until then.
        #[arg(long)]
        leave_after: Option<usize>,
        /// How many transfers to queue in a row find the queue at capacity.
        #[arg(long, default_value_t = 0)]
        queue_at_capacity: usize,
        /// Print the transcript as JSON.
        #[arg(long)]
        json: bool,
        /// Play the flows deployed into the instance (`flows apply`), named as in Connect, instead
        /// of the library's.
        #[arg(long)]
        deployed: bool,
    },
    /// Plan or apply the working tree's `contact-flows/` on the running local cloud's instance
    /// (through `provision-flows`, as the flows pipeline does).
    Flows {
        #[arg(value_enum)]
        mode: FlowsMode,
        /// What an apply does with a flow edited on the instance since it was deployed.
        #[arg(long, value_enum, default_value_t = OnDrift::Fail)]
        on_drift: OnDrift,
        /// Archive managed flows that are no longer in `contact-flows/`.
        #[arg(long)]
        archive_orphans: bool,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run one function's debug binary once with an event file and print its answer (logs on
    /// stderr), against the running local cloud, or a temporary one when none runs.
    Invoke {
        /// The function's name, as in `functions/` (e.g. `check-emergency`).
        function: String,
        /// The event, passed as-is (e.g. `events/check-emergency/sydney.json`).
        event: PathBuf,
    },
    /// Deliver an EventBridge event to an event function as the template's rule would: refused when
    /// no rule of the template sends that event to that function, else run as `invoke` does.
    Event {
        /// The event function (`stop-recording-on-meeting-end`, `prewarm-recording-task`).
        function: String,
        /// The EventBridge event (e.g. `events/stop-recording-on-meeting-end/meeting-ended.json`).
        event: PathBuf,
    },
    /// Print the SMS the emulator has delivered.
    Outbox,
    /// Sign an agent in to the local user pool and print the ID token (for the `cognitoIdToken` header).
    SignIn {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Local-Passw0rd!")]
        password: String,
    },
    /// Measure every function's release binary against the local cloud (run by `make bench`).
    Bench {
        /// Where the release binaries are.
        #[arg(long, default_value = "target/release")]
        binaries: PathBuf,
        /// Where to write results.json and results.md.
        #[arg(long, default_value = "bench")]
        out: PathBuf,
        /// Fresh processes per function for init and first invocation (each followed by one of the
        /// floor's): 20, as a median of 10 moved by a millisecond between runs.
        #[arg(long, default_value_t = 20)]
        cold: usize,
        /// Warm invocations per function (the CPU per invocation is over these: at least 1,000).
        #[arg(long, default_value_t = 1_000)]
        warm: usize,
        /// Under each CPU model (memory size × scheduler period): fresh processes per function.
        #[arg(long, default_value_t = 5)]
        model_cold: usize,
        /// Under each CPU model: warm invocations of the last fresh process.
        #[arg(long, default_value_t = 50)]
        model_warm: usize,
        /// Measure only these functions (and the floor, always, in the same run) and replace their
        /// rows in an existing results.json; the others keep the figures of the run that made them.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
        /// Reach moto and the emulator over plain HTTP instead of HTTPS (as `make dev` does).
        #[arg(long)]
        plain: bool,
        /// Go on from the rows a stopped run kept in results.partial.json (same profile, counts and
        /// transport; a row whose binary changed since is measured again).
        #[arg(long)]
        resume: bool,
    },
    /// Each function's `MemorySize` as the bench's figures choose it (`bench::memory::choose`: the
    /// size template.yaml declares, kept while it is fast and cheap enough), against what
    /// template.yaml declares; `--write` sets the ones that move.
    MemorySizes {
        /// The bench's figures.
        #[arg(long, default_value = "bench/results.json")]
        results: PathBuf,
        /// Rewrite template.yaml's `MemorySize` lines that move.
        #[arg(long)]
        write: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum FlowsMode {
    Plan,
    Apply,
}

#[derive(Clone, Copy, ValueEnum)]
enum OnDrift {
    Fail,
    Overwrite,
}

#[derive(Clone, Copy, ValueEnum)]
enum Runtime {
    CargoLambda,
    Host,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{s:?} is not key=value"))
}

fn parse_time(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 time (2026-12-07T09:30:00+11:00): {e}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> CommandResult {
    match command {
        Command::Up { runtime, lambda_port } => up(runtime, lambda_port).await,
        Command::Invoke { function, event } => invoke(&function, &event).await,
        Command::Event { function, event } => deliver_event(&function, &event).await,
        Command::Call {
            flow,
            channel,
            from,
            to,
            inputs,
            said,
            at,
            metrics,
            attributes,
            parameters,
            leave_after,
            queue_at_capacity,
            json,
            deployed,
        } => {
            let file = CloudFile::read()?;
            // `up` seeds the cloud from this fixture; the runner needs its Connect users.
            let fixture = Fixture::load(&Fixture::default_path())?;
            let mut runner = Runner::new(
                FlowLibrary::repository(),
                Services::from_fixture(&fixture, file.lambda_endpoint, file.emulator_endpoint),
            );
            if deployed {
                runner = runner.playing_deployed();
            }
            let flow = flow.unwrap_or_default();
            let call = match (channel, from) {
                (Channel::Voice, Some(from)) => Call::voice(flow, from, to),
                (Channel::Voice, None) => return Err("a voice call needs --from <caller number>".into()),
                (Channel::Chat, _) => Call::chat(flow),
                (other, _) => return Err(format!("the {other} channel cannot be played").into()),
            };
            let mut call = call
                .with_inputs(inputs)
                .with_attributes(attributes)
                .with_parameters(parameters)
                .with_queue_at_capacity(queue_at_capacity)
                .saying(said)
                .with_metrics(metrics);
            if let Some(at) = at {
                call = call.at(at);
            }
            if let Some(messages) = leave_after {
                call = call.leaving_after_messages(messages);
            }
            let transcript = runner.play(call).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&transcript)?);
            } else {
                print!("{transcript}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Flows { mode, on_drift, archive_orphans, json } => {
            let file = CloudFile::read()?;
            let request = serde_json::json!({
                "mode": match mode { FlowsMode::Plan => "plan", FlowsMode::Apply => "apply" },
                "flows": switchboard_local::flows::working_tree()?,
                "onDrift": match on_drift { OnDrift::Fail => "fail", OnDrift::Overwrite => "overwrite" },
                "archiveOrphans": archive_orphans,
            });
            let lambda = switchboard_local::lambda_host::InvokeClient::new(file.lambda_endpoint);
            let report = lambda
                .invoke_within(cloud::PROVISION_FLOWS_FUNCTION, &request, Duration::from_secs(120))
                .await
                .map_err(|e| format!("{}: {e}", cloud::PROVISION_FLOWS_FUNCTION))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", switchboard_local::flows::render(&report));
            }
            let deployed =
                ["PLANNED", "APPLIED", "NO_CHANGES"].contains(&report["result"].as_str().unwrap_or_default());
            Ok(if deployed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
        Command::Bench { binaries, out, cold, warm, model_cold, model_warm, only, plain, resume } => {
            bench(binaries, out, (cold, warm, model_cold, model_warm), only, !plain, resume).await
        }
        Command::MemorySizes { results, write } => memory_sizes(&results, write),
        Command::SignIn { email, password } => {
            let file = CloudFile::read()?;
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(file.region))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing", "testing", None, None, "cli",
                ))
                .endpoint_url(&file.emulator_endpoint)
                .load()
                .await;
            let answer = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
                .initiate_auth()
                .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
                .client_id(file.user_pool_client_id)
                .auth_parameters("USERNAME", email)
                .auth_parameters("PASSWORD", password)
                .send()
                .await
                .map_err(|e| {
                    format!("sign-in failed: {}", aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&e))
                })?;
            println!("{}", answer.authentication_result().and_then(|r| r.id_token()).unwrap_or_default());
            Ok(ExitCode::SUCCESS)
        }
        Command::Outbox => {
            let file = CloudFile::read()?;
            let outbox: Vec<Sms> =
                reqwest::get(format!("{}/_local/outbox", file.emulator_endpoint)).await?.json().await?;
            for sms in outbox {
                println!("to {} from {}: {}", sms.to, sms.sender_id.unwrap_or_default(), sms.body);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn bench(
    binaries: PathBuf,
    out: PathBuf,
    (cold, warm, model_cold_runs, model_warm_runs): (usize, usize, usize, usize),
    only: Vec<String>,
    tls: bool,
    resume: bool,
) -> CommandResult {
    use switchboard_local::bench::{self, BenchError, Plan, Report, Setup, Subject};
    let all = cloud::function_names()?;
    if let Some(unknown) = only.iter().find(|name| !all.contains(name)) {
        return Err(format!("--only {unknown}: no such function").into());
    }
    let names: Vec<String> = all.into_iter().filter(|name| only.is_empty() || only.contains(name)).collect();
    // The Node.js references run right after the functions they stand beside.
    let reference = switchboard_local::repo_root().join("bench/reference");
    let mut subjects = Vec::new();
    for name in names.iter().map(String::as_str).chain(["bench-floor"]) {
        subjects.push(Subject::rust(name, &binaries));
        if bench::NODE_REFERENCES.contains(&name) {
            subjects.push(Subject::node(name, &reference));
        }
    }

    // The floor's cold runs are interleaved with each function's (its row's budgets compare the two
    // under the same load), and the floor has a row of its own, measured last.
    let floor_subject = subjects.iter().find(|s| s.name == "bench-floor").cloned();
    // `target/release` or `target/debug`: a debug run must not pass for the release figures.
    let profile = binaries.file_name().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let report_of = |functions: Vec<bench::Figures>| Report {
        profile: profile.clone(),
        target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        cold_runs: cold,
        warm_runs: warm,
        tls,
        // A debug harness's TLS fronts slow each first request: its figures say so, and `--only` and
        // `--resume` keep them apart from an optimised harness's.
        harness_optimised: !cfg!(debug_assertions),
        functions,
    };
    // A whole run takes about 70 minutes: each row is kept in results.partial.json as soon as it is
    // measured, so a run that stopped (a crash, a machine shut down) goes on with --resume.
    std::fs::create_dir_all(&out)?;
    let partial = out.join("results.partial.json");
    let mut functions = match resume {
        true => kept_rows(&partial, &report_of(Vec::new()), &subjects)?,
        false => Vec::new(),
    };
    for kept in &functions {
        eprintln!("kept {} from {}", kept.function, partial.display());
    }

    // A set-up that fails is the local cloud's, not the measured function's: moto copies a whole table
    // for every transaction, and after an hour of set-ups one now and then outlasts the fleet's 2 s
    // attempt timeout. The local cloud is then started afresh (as a `--resume` would) and the row
    // measured again, up to MAX_FRESH_CLOUDS times a run; the measured function's own failures still
    // stop the run.
    const MAX_FRESH_CLOUDS: usize = 3;
    let mut fresh_clouds = 0;
    'cloud: loop {
        // The fleet serves the setups' invocations, from the debug binaries (`make bench` builds both):
        // its speed is not measured, and `--only` then needs release binaries of the measured functions
        // alone. Each measured function runs in processes of its own.
        let fixture = Fixture::load(&Fixture::default_path())?;
        let cloud = LocalCloud::with_fleet(fixture, cloud::debug_binaries(), BTreeMap::new()).await?;
        // As in AWS, each measured process reaches every service over HTTPS (its handshake and its
        // encryption are the function's CPU); the fleet serving the set-ups stays plain.
        let mut local_tls = None;
        let env = match tls {
            true => {
                let secured = local_tls.insert(switchboard_local::tls_front::LocalTls::new(&std::env::temp_dir())?);
                secured.secure(&cloud.function_env()).await?
            }
            false => cloud.function_env(),
        };
        let plan = Plan {
            cold_runs: cold,
            warm_runs: warm,
            model_cold_runs,
            model_warm_runs,
            env,
            region: cloud.fixture.region.clone(),
            account_id: cloud.fixture.account_id.clone(),
            handshakes: local_tls.as_ref().map(|secured| secured.handshakes()),
        };
        let mut setup = Setup::new(&cloud).await?;
        for subject in &subjects {
            if functions.iter().any(|f| f.function == subject.name) {
                continue;
            }
            eprintln!("measuring {} …", subject.name);
            let floor = floor_subject.as_ref().filter(|floor| floor.name != subject.name);
            match bench::measure(subject, floor, &plan, &mut setup).await {
                Ok(figures) => functions.push(figures),
                Err(error @ BenchError::Setup { .. }) if fresh_clouds < MAX_FRESH_CLOUDS => {
                    fresh_clouds += 1;
                    eprintln!("{error}\nstarting the local cloud afresh ({fresh_clouds} of {MAX_FRESH_CLOUDS}) to measure {} again", subject.name);
                    continue 'cloud;
                }
                Err(error) => return Err(error.into()),
            }
            std::fs::write(&partial, serde_json::to_string_pretty(&report_of(functions.clone()))? + "\n")?;
        }
        break;
    }
    for f in functions.iter_mut().filter(|f| f.function == "bench-floor") {
        f.floor = Some(bench::Floor::of(f));
    }
    if !only.is_empty() && out.join("results.json").exists() {
        // The rows not measured now stay as the earlier run left them (same profile and run counts).
        let earlier: Report = serde_json::from_str(&std::fs::read_to_string(out.join("results.json"))?)?;
        if !earlier.same_conditions(&report_of(Vec::new())) {
            return Err(format!(
                "--only merges into a run of the same profile, counts, transport and harness ({}, {} cold, {} warm, \
                 {}, {} harness)",
                earlier.profile,
                earlier.cold_runs,
                earlier.warm_runs,
                if earlier.tls { "HTTPS" } else { "--plain" },
                if earlier.harness_optimised { "an optimised" } else { "a debug" }
            )
            .into());
        }
        let measured: Vec<String> = functions.iter().map(|f| f.function.clone()).collect();
        let kept = earlier.functions.into_iter().filter(|f| !measured.contains(&f.function));
        functions.extend(kept);
        functions.sort_by(|a, b| {
            (a.function == "bench-floor").cmp(&(b.function == "bench-floor")).then(a.function.cmp(&b.function))
        });
    }
    let report = report_of(functions);
    // The figures first: a template that does not parse must not cost the run.
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&report)? + "\n")?;
    let declared = bench::memory::declared_sizes(&std::fs::read_to_string(repo_root().join("template.yaml"))?)?;
    let table = bench::markdown(&report, &declared);
    // The figures are replaced; the findings written under them are kept.
    let earlier = std::fs::read_to_string(out.join("results.md")).unwrap_or_default();
    std::fs::write(out.join("results.md"), bench::with_findings(&table, &earlier))?;
    std::fs::remove_file(&partial)?;
    println!("{table}");
    println!("written to {}/results.json and results.md", out.display());
    Ok(ExitCode::SUCCESS)
}

/// Prints each function's declared and chosen memory size; with `write`, sets the chosen ones in
/// template.yaml. Fails when a function has no figures under the CPU model to choose from.
fn memory_sizes(results: &Path, write: bool) -> CommandResult {
    use switchboard_local::bench::{memory, Report};
    let template_path = repo_root().join("template.yaml");
    let mut template = std::fs::read_to_string(&template_path)?;
    let report: Report = serde_json::from_str(&std::fs::read_to_string(results)?)?;
    let (mut moved, mut unmeasured) = (0, Vec::new());
    for (function, &declared) in &memory::declared_sizes(&template)? {
        let figures = report.functions.iter().find(|f| &f.function == function);
        let Some(chosen) = figures.and_then(|f| memory::choose(f, Some(declared))).map(|s| s.memory_mb) else {
            unmeasured.push(function.clone());
            continue;
        };
        if chosen == declared {
            println!("{function}: {declared} MB, kept");
            continue;
        }
        println!("{function}: {declared} MB -> {chosen} MB");
        moved += 1;
        if write {
            template = memory::with_declared_size(&template, function, chosen)
                .ok_or_else(|| format!("{function}: template.yaml has no single MemorySize line to set"))?;
        }
    }
    if write && moved > 0 {
        std::fs::write(&template_path, &template)?;
    }
    println!("{moved} to move{}", if write { ", set in template.yaml" } else { " (--write sets them)" });
    if !unmeasured.is_empty() {
        return Err(
            format!("no figures under the CPU model in {} for {}", results.display(), unmeasured.join(", ")).into()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The rows a stopped run kept in `partial` that `run` (same profile, counts, transport) may reuse:
/// each subject's whose binary (or handler) is the build the row measured.
fn kept_rows(
    partial: &Path,
    run: &switchboard_local::bench::Report,
    subjects: &[switchboard_local::bench::Subject],
) -> Result<Vec<switchboard_local::bench::Figures>, Box<dyn std::error::Error>> {
    let Ok(text) = std::fs::read_to_string(partial) else { return Ok(Vec::new()) };
    let earlier: switchboard_local::bench::Report = serde_json::from_str(&text)?;
    if !earlier.same_conditions(run) {
        return Err(
            format!("--resume: {} is of another profile, run counts, transport or harness", partial.display()).into()
        );
    }
    let unchanged = |row: &switchboard_local::bench::Figures| {
        let subject = subjects.iter().find(|s| s.name == row.function);
        subject.and_then(|s| s.build().ok()).is_some_and(|build| build == row.build)
    };
    Ok(earlier.functions.into_iter().filter(unchanged).collect())
}

async fn up(runtime: Runtime, lambda_port: u16) -> CommandResult {
    let fixture = Fixture::load(&Fixture::default_path())?;
    let (mut cloud, lambda_endpoint, _cargo_lambda) = match runtime {
        Runtime::Host => {
            let cloud = LocalCloud::with_fleet(fixture, cloud::debug_binaries(), BTreeMap::new()).await?;
            let endpoint = cloud.fleet().map(|f| f.endpoint()).unwrap_or_default();
            (cloud, endpoint, None)
        }
        Runtime::CargoLambda => {
            let mut cloud = LocalCloud::services(fixture).await?;
            let watch = tokio::process::Command::new("cargo")
                .args(["lambda", "watch", "-A", "127.0.0.1", "-P", &lambda_port.to_string()])
                .current_dir(repo_root())
                .envs(cloud.function_env())
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start `cargo lambda watch` (run `make setup`): {e}"))?;
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], lambda_port));
            if !switchboard_local::net::wait_for_listener(addr, Duration::from_secs(60)).await {
                return Err("cargo lambda watch did not start listening within 60 s".into());
            }
            cloud.start_gateway(format!("http://{addr}")).await?;
            (cloud, format!("http://{addr}"), Some(watch))
        }
    };
    // The pages need desktop/node_modules (`make dev` installs it); without them the rest still runs.
    let desktop = match cloud.start_desktop(DesktopOptions::default()).await {
        Ok(()) => desktop_pages(&cloud),
        Err(error) => format!("Agent desktop pages: not started ({error}).\n"),
    };
    let file = CloudFile::describe(&cloud, lambda_endpoint);
    file.write()?;
    let admin = cloud.fixture.emergency.admins.first().map(|a| a.phone.clone()).unwrap_or_default();
    println!(
        "Switchboard local cloud is up.
  moto (DynamoDB, …)   {moto}
  emulator             {emulator} (Connect, Chime SDK Meetings, Pinpoint, Cognito front)
  Lambda invoke API    {lambda}
  endpoints written to {file}

Play the admin story (the PIN is read from the SMS outbox; 1 = Sydney, 1 = set, 1 = first type):
  target/debug/switchboard-local call emergency/Emergency_Authentication --from {admin} --input auto --input 1 --input 1 --input 1
Then a customer calling the Sydney number:
  target/debug/switchboard-local call emergency/Emergency_Demo --from +61400111222 --to +61255501000
See the SMS sent so far:
  target/debug/switchboard-local outbox
Run one function with a sample event:
  target/debug/switchboard-local invoke check-emergency events/check-emergency/sydney.json

Agent HTTP API ({gateway}): sign in as an agent, then log in to the CCP:
  TOKEN=$(target/debug/switchboard-local sign-in --email alice+video@example.com)
  curl -s -X POST {gateway}/ccplogin -H \"cognitoIdToken: $TOKEN\" -d '{{\"connectLoginByEmail\": true}}'
Onboard (the token after this carries the Connect user id), then a video escalation:
  curl -s -X POST {gateway}/setConnectUserId -H \"cognitoIdToken: $TOKEN\" -d '{{\"connectLoginByEmail\": true, \"connectUserId\": \"{alice_id}\"}}'
  TOKEN=$(target/debug/switchboard-local sign-in --email alice+video@example.com)
  curl -s -X POST {gateway}/meeting -H \"cognitoIdToken: $TOKEN\" -d '{{\"externalMeetingId\": \"demo-1\", \"meetingTitle\": \"demo-1\", \"meetingRegion\": \"\", \"meetingAttendees\": [{{\"attendeeName\": \"Alice\", \"isOwner\": true}}, {{\"attendeeName\": \"Carol\", \"externalUserId\": \"carol-1\"}}]}}'
  curl -s -X POST {gateway}/attendee -H \"cognitoIdToken: $TOKEN\" -d '{{\"externalMeetingId\": \"demo-1\", \"attendeeExternalUserId\": \"dave-1\", \"attendeeName\": \"Dave\"}}'
  curl -s '{gateway}/attendee-join-data?externalMeetingId=demo-1&attendeeExternalUserId=carol-1'
  curl -s '{gateway}/attendee-name?externalMeetingId=demo-1&attendeeExternalUserId=carol-1'
  curl -s -X POST {gateway}/adhoc -H \"cognitoIdToken: $TOKEN\" -d '{{\"attendeeEmail\": \"carol@example.com\", \"routeToAgentQueue\": \"alice_video@example.com\"}}'
  curl -s -X POST {gateway}/start -H 'content-type: text/plain' -d '{{\"ContactFlowId\": \"{chat_flow}\", \"ParticipantDetails\": {{\"DisplayName\": \"Carol\"}}, \"Attributes\": {{\"customerEmailAddress\": \"carol@example.com\", \"videoReferenceId\": \"<the route id>\"}}}}'
  target/debug/switchboard-local call video/VideoCallEscalationChat --channel chat --attribute customerName=Carol --attribute videoRouteToAgent={alice_id}
  curl -s -X DELETE {gateway}/meeting -H \"cognitoIdToken: $TOKEN\" -d '{{\"externalMeetingId\": \"demo-1\"}}'
It answers CORS for {origins} (SWITCHBOARD_CORS_ORIGINS, comma-separated, changes that).

{desktop}
Ctrl-C stops everything.",
        moto = file.moto_endpoint,
        emulator = file.emulator_endpoint,
        lambda = file.lambda_endpoint,
        gateway = file.gateway_endpoint.clone().unwrap_or_default(),
        origins = cloud::cors_origins().join(", "),
        chat_flow = cloud.fixture.connect.video_chat_flow_id(),
        alice_id = cloud.fixture.connect.users.first().map(|u| u.id.as_str()).unwrap_or_default(),
        file = CloudFile::path().display(),
    );
    // Ctrl-C, or a SIGTERM/SIGHUP from a supervisor: either way stop what was started.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
        _ = hangup.recv() => {}
    }
    println!("stopping");
    CloudFile::remove();
    drop(cloud);
    Ok(ExitCode::SUCCESS)
}

/// What `up` prints about the desktop pages: their URLs, who can sign in, how to play the CCP.
fn desktop_pages(cloud: &LocalCloud) -> String {
    let Some(site) = &cloud.desktop else {
        return String::new();
    };
    let pages: String = site.page_urls().iter().map(|(_, url)| format!("  {url}\n")).collect();
    let agent = cloud.fixture.cognito.agents.first().map(|a| (a.email.as_str(), a.password.as_str()));
    let (email, password) = agent.unwrap_or_default();
    let instance = cloud.fixture.instance_arn();
    let alice = cloud.fixture.connect.users.first();
    let alice_arn = alice.map(|u| format!("{instance}/agent/{}", u.id)).unwrap_or_default();
    let username = alice.map(|u| u.username.as_str()).unwrap_or_default();
    // The agent's routing-profile queues, as the real CCP reports them (the agent-app reads them).
    let queue = cloud.fixture.connect.queues.iter().next().map(|(name, id)| (name.as_str(), id.as_str()));
    let (queue_name, queue_id) = queue.unwrap_or_default();
    format!(
        "Agent desktop pages, behind the CloudFront stand-in (sign in as {email} / {password}):
{pages}The CCP in them is a fake one (Streams' handshake, no calls) at {ccp} (the agent-app's
connectInstanceURL). To be the agent with a contact, in the CCP frame's console (its contact registered
with `POST {emulator}/_local/contacts` for session_info):
  fakeCcp.pushAgent({{agentARN: '{alice_arn}', name: 'alice', username: '{username}', queues: [{{queueARN: '{instance}/queue/{queue_id}', name: '{queue_name}'}}], contacts: [{{contactId: '<contact id>', state: 'connected'}}]}})
",
        emulator = cloud.emulator.endpoint(),
        ccp = site.ccp.origin(),
    )
}

/// `invoke`: the function's debug binary, in the environment the fleet gives it, with one event.
async fn invoke(function: &str, event_file: &Path) -> CommandResult {
    let known = cloud::function_names()?;
    if !known.iter().any(|name| name == function) {
        return Err(format!("unknown function {function:?}; the functions are: {}", known.join(", ")).into());
    }
    let binary = cloud::debug_binaries().join(function);
    if !binary.exists() {
        return Err(format!("{} does not exist; build it first (`cargo build --workspace`)", binary.display()).into());
    }
    let event =
        std::fs::read(event_file).map_err(|e| format!("cannot read the event {}: {e}", event_file.display()))?;
    // Checked here so a typo is reported as the file's fault, not as the function's error.
    serde_json::from_slice::<serde_json::Value>(&event)
        .map_err(|e| format!("the event {} is not JSON: {e}", event_file.display()))?;

    let running = match CloudFile::read() {
        Ok(file) if file.is_live().await => Some(file),
        Ok(_) => {
            eprintln!("{} names a local cloud that no longer answers; ignoring it", CloudFile::path().display());
            None
        }
        Err(CloudFileError::NotFound(_)) => None,
        Err(error) => return Err(error.into()),
    };
    // Kept until the function has answered: dropping it stops moto and the emulator by process id.
    let mut temporary = None;
    let (env, region, account_id) = match running {
        Some(file) if file.function_env.is_empty() => {
            return Err(format!(
                "{} was written by an older switchboard-local; restart the local cloud (`make dev`)",
                CloudFile::path().display()
            )
            .into())
        }
        Some(file) => (file.function_env, file.region, file.account_id),
        None => {
            eprintln!("no local cloud is running: starting moto and the emulator for this invocation");
            let cloud = LocalCloud::services(Fixture::load(&Fixture::default_path())?).await?;
            let settings = (cloud.function_env(), cloud.fixture.region.clone(), cloud.fixture.account_id.clone());
            temporary = Some(cloud);
            settings
        }
    };

    // A custom-resource request answers CloudFormation at its ResponseURL: here, the emulator's sink.
    let mut event: serde_json::Value = serde_json::from_slice(&event)?;
    let emulator = env.get("AWS_ENDPOINT_URL_CONNECT").cloned().unwrap_or_default();
    let custom_resource_request = event.get("ResponseURL").is_some().then(|| {
        let request_id = event["RequestId"].as_str().unwrap_or("request").to_owned();
        event["ResponseURL"] = format!("{emulator}/_local/custom-resource-responses/{request_id}").into();
        request_id
    });
    let spec = FunctionSpec { name: function.to_owned(), binary, env, timeout: cloud::function_timeout(function) };
    let logs = Arc::new(Mutex::new(Vec::new()));
    let process = FunctionProcess::spawn(&spec, &region, &account_id, logs.clone()).await?;
    let invocation = process.invoke(serde_json::to_vec(&event)?.into()).await;
    let custom_resource_answer = match custom_resource_request {
        Some(request_id) => {
            let answers: Vec<emulator::CustomResourceResponse> =
                reqwest::get(format!("{emulator}/_local/custom-resource-responses")).await?.json().await?;
            answers.into_iter().rev().find(|a| a.request_id == request_id).map(|a| a.body)
        }
        None => None,
    };
    process.stop(Duration::from_secs(2)).await;
    drop(temporary);
    for line in logs.lock().map(|l| l.clone()).unwrap_or_default() {
        eprintln!("{}", line.line);
    }
    if let Some(answer) = custom_resource_answer {
        eprintln!("{function} answered CloudFormation (the ResponseURL):");
        println!("{}", serde_json::to_string_pretty(&answer)?);
        let failed = answer["Status"] != "SUCCESS";
        return Ok(if failed { ExitCode::FAILURE } else { ExitCode::SUCCESS });
    }
    match invocation.result {
        Ok(answer) => {
            println!("{}", pretty_json(&answer));
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            // On stdout as `sam local invoke` prints it, and named on stderr for the reader.
            println!("{}", pretty_json(&error));
            let error: serde_json::Value = serde_json::from_slice(&error).unwrap_or_default();
            let text = |field: &str| error.get(field).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            eprintln!("error: {function} returned a Lambda error: {}: {}", text("errorType"), text("errorMessage"));
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `event`: the rule check, then `invoke`.
async fn deliver_event(function: &str, event_file: &Path) -> CommandResult {
    use switchboard_local::recording::EVENT_RULES;
    let text = std::fs::read(event_file).map_err(|e| format!("cannot read the event {}: {e}", event_file.display()))?;
    let event: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("the event {} is not JSON: {e}", event_file.display()))?;
    let fixture = Fixture::load(&Fixture::default_path())?;
    let group = &fixture.video.recording.auto_scaling_group_name;
    let targets: Vec<&str> =
        EVENT_RULES.iter().filter(|rule| rule.matches(&event, group)).map(|rule| rule.function).collect();
    if !targets.contains(&function) {
        let went = if targets.is_empty() { "no function".to_owned() } else { targets.join(", ") };
        return Err(format!(
            "no EventBridge rule of the template delivers this event to {function} (it would go to {went}); \
             check its source, detail-type and detail"
        )
        .into());
    }
    invoke(function, event_file).await
}

/// `bytes` pretty-printed when they are JSON, else as they are.
fn pretty_json(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned())
}
