//! `pvm doom --wad FILE --program FILE [--tics N] [--backend B] [--page-size BYTES] [--keys FILE] [--frames-every K] [--out DIR]`:
//! runs PolkaVM's Doom port headless, writes frames as PNGs and an animated GIF, and prints how
//! fast it ran. See `pvm_tools::doom` for the host functions.

use pvm_executor::program::PageSize;
use pvm_tools::doom::{self, keys, media, DoomBackend, Frame};
use pvm_tools::linking::parse_page_size;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct Args {
    /// The WAD (e.g. Debian's freedoom1.wad); may be zstd-compressed.
    #[arg(long)]
    wad: PathBuf,
    /// The Doom program: an ELF (linked on the fly as `pvm link` does by default) or a blob;
    /// either may be zstd-compressed (`doom_64.elf.zst`).
    #[arg(long)]
    program: PathBuf,
    /// Game tics to run after `ext_initialize` (35 per second of game time).
    #[arg(long, default_value_t = 700)]
    tics: u32,
    /// interpreter, compiler, or (with the `polkavm-reference` feature) polkavm-reference
    /// (PolkaVM 0.37's recompiler) or polkavm-interpreter.
    #[arg(long, default_value = "compiler", value_parser = parse_backend)]
    backend: DoomBackend,
    /// The page size, in bytes (`16384`, `16K`; a power of two from 4 KiB to 64 KiB). 16 KiB,
    /// as PolkaVM's Doom example uses, makes the 8 KiB stack the ELF links with 16 KiB; with
    /// 4 KiB pages Doom needs an ELF linked with `pvm link --min-stack-size 16K`.
    #[arg(long, value_name = "BYTES", default_value = "16K", value_parser = parse_page_size)]
    page_size: PageSize,
    /// Timed key events (one `TIC KEY down|up|tap` a line; see `pvm_tools::doom::keys`).
    #[arg(long)]
    keys: Option<PathBuf>,
    /// Keep every K-th tic's frame (as `frame-TTTTT.png` and in the GIF); 0 keeps none.
    #[arg(long, default_value_t = 35)]
    frames_every: u32,
    /// Where to write the frames and `doom.gif`; without it nothing is written.
    #[arg(long)]
    out: Option<PathBuf>,
    /// The PNGs and the GIF show frames at 1/N of their size (the GIF of a long run gets large).
    #[arg(long, default_value_t = 1)]
    scale: u32,
    /// Print the hash of each kept frame (`tic N: frames F, hash H`).
    #[arg(long)]
    print_hashes: bool,
    /// Print what the guest wrote to its stdout.
    #[arg(long)]
    print_stdout: bool,
}

fn parse_backend(name: &str) -> Result<DoomBackend, String> {
    let backend = DoomBackend::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = DoomBackend::ALL.iter().map(|backend| backend.name()).collect();
        format!("unknown backend `{name}` (expected {})", names.join(", "))
    })?;
    if !backend.is_available() {
        return Err(format!("the {name} backend needs pvm built with `--features polkavm-reference`"));
    }
    Ok(backend)
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let wad = doom::decompress_if_zstd(read(&args.wad)?).map_err(|err| format!("{}: {err}", args.wad.display()))?;
    let wad: Arc<[u8]> = wad.into();
    let events = match &args.keys {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
            keys::parse(&text).map_err(|err| format!("{}: {err}", path.display()))?
        }
        None => Vec::new(),
    };
    let (blob, link_time) =
        doom::program_blob(read(&args.program)?).map_err(|err| format!("{}: {err}", args.program.display()))?;
    if !link_time.is_zero() {
        println!("linked {} in {:.0} ms", args.program.display(), link_time.as_secs_f64() * 1e3);
    }
    let loaded = doom::load(args.backend, &blob, args.page_size, wad).map_err(|err| err.to_string())?;
    println!(
        "backend {} ({} pages): load + compile {:.1} ms, instantiate {:.1} ms ({} bytes of blob)",
        args.backend.name(),
        args.page_size,
        loaded.compile_time.as_secs_f64() * 1e3,
        loaded.instantiate_time.as_secs_f64() * 1e3,
        blob.len()
    );
    let mut machine = loaded.machine;

    if let Some(out) = &args.out {
        std::fs::create_dir_all(out).map_err(|err| format!("cannot create {}: {err}", out.display()))?;
    }
    let keep = |tic: u32| args.frames_every != 0 && (tic + 1) % args.frames_every == 0;
    let mut gif: Option<media::GifWriter> = None;
    let mut image_error: Option<String> = None;
    let mut kept: Vec<(u32, u64, u64)> = Vec::new();
    let (records, initialize_time, guest_time) = doom::play(machine.as_mut(), args.tics, &events, |tic, host| {
        let Some(frame) = host.frame.as_ref().filter(|_| keep(tic)) else { return };
        kept.push((tic, host.frames_output, frame.hash()));
        if image_error.is_some() {
            return;
        }
        if let Some(out) = &args.out {
            if let Err(err) = write_images(out, tic, frame, &mut gif, args.scale, args.frames_every) {
                image_error = Some(err);
            }
        }
    })
    .map_err(|err| err.to_string())?;
    if let Some(err) = image_error {
        return Err(err);
    }

    let host = machine.host();
    let tics_per_second = f64::from(args.tics) / guest_time.as_secs_f64().max(1e-9);
    println!("ext_initialize: {:.1} ms", initialize_time.as_secs_f64() * 1e3);
    println!(
        "{} tics in {:.2} s: {:.1} tics/s ({:.1}x real time)",
        args.tics,
        guest_time.as_secs_f64(),
        tics_per_second,
        tics_per_second / 35.0
    );
    let gas =
        records.last().and_then(|record| record.gas_used).map_or("not metered".to_string(), |gas| gas.to_string());
    println!("frames output: {}, audio samples: {}, gas used: {gas}", host.frames_output, host.audio_samples);
    if let Some(frame) = &host.frame {
        println!("last frame: {}x{}, hash {:016x}", frame.width, frame.height, frame.hash());
    }
    if args.print_hashes {
        for (tic, frames, hash) in &kept {
            println!("tic {tic}: frames {frames}, hash {hash:016x}");
        }
    }
    if let Some(out) = &args.out {
        println!("wrote {} frames and doom.gif to {}", kept.len(), out.display());
    }
    if args.print_stdout {
        println!("--- guest stdout ---\n{}", String::from_utf8_lossy(&host.stdout));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_images(
    out: &std::path::Path,
    tic: u32,
    frame: &Frame,
    gif: &mut Option<media::GifWriter>,
    scale: u32,
    frames_every: u32,
) -> Result<(), String> {
    media::write_png(&media::scale_down(frame, scale), &out.join(format!("frame-{tic:05}.png")))?;
    if gif.is_none() {
        // Frames every K tics, shown for K/35 s each: the GIF plays at game speed.
        let delay = u16::try_from(frames_every * 100 / 35).unwrap_or(u16::MAX).max(2);
        *gif = Some(media::GifWriter::create(&out.join("doom.gif"), frame.width, frame.height, scale, delay)?);
    }
    gif.as_mut().expect("created above").push(frame)
}
