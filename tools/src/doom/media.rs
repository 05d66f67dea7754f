//! Frames to image files: PNG stills and an animated GIF.

use super::Frame;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// `frame` at 1/`scale` of its size (nearest neighbour: Doom's palette colours stay exact).
pub fn scale_down(frame: &Frame, scale: u32) -> Frame {
    let scale = scale.max(1);
    if scale == 1 {
        return frame.clone();
    }
    let (width, height) = (frame.width / scale, frame.height / scale);
    let mut bgrx = Vec::with_capacity((width * height * 4) as usize);
    for y in 0..height {
        for x in 0..width {
            let at = (((y * scale) * frame.width + x * scale) * 4) as usize;
            bgrx.extend_from_slice(&frame.bgrx[at..at + 4]);
        }
    }
    Frame { width, height, bgrx }
}

/// Writes `frame` as an RGB PNG.
pub fn write_png(frame: &Frame, path: &Path) -> Result<(), String> {
    let file = File::create(path).map_err(|err| format!("cannot create {}: {err}", path.display()))?;
    let mut encoder = png::Encoder::new(BufWriter::new(file), frame.width, frame.height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let rgb: Vec<u8> = frame.bgrx.chunks_exact(4).flat_map(|pixel| [pixel[2], pixel[1], pixel[0]]).collect();
    encoder
        .write_header()
        .and_then(|mut writer| writer.write_image_data(&rgb))
        .map_err(|err| format!("cannot write {}: {err}", path.display()))
}

/// An animated GIF being written, one frame at a time, scaled down by an integer factor.
pub struct GifWriter {
    encoder: gif::Encoder<BufWriter<File>>,
    scale: u32,
    delay_centiseconds: u16,
    path: String,
}

impl GifWriter {
    /// Starts a looping GIF of `width` x `height` frames shown at 1/`scale` of their size,
    /// each shown for `delay_centiseconds`.
    pub fn create(path: &Path, width: u32, height: u32, scale: u32, delay_centiseconds: u16) -> Result<Self, String> {
        let scale = scale.max(1);
        let display = path.display().to_string();
        let file = File::create(path).map_err(|err| format!("cannot create {display}: {err}"))?;
        let (out_width, out_height) = (width / scale, height / scale);
        let size =
            |value: u32| u16::try_from(value).map_err(|_| format!("{display}: a GIF is at most 65535 pixels wide"));
        let mut encoder = gif::Encoder::new(BufWriter::new(file), size(out_width)?, size(out_height)?, &[])
            .map_err(|err| format!("cannot write {display}: {err}"))?;
        encoder.set_repeat(gif::Repeat::Infinite).map_err(|err| format!("cannot write {display}: {err}"))?;
        Ok(GifWriter { encoder, scale, delay_centiseconds, path: display })
    }

    /// Appends a frame, scaled down.
    pub fn push(&mut self, frame: &Frame) -> Result<(), String> {
        let scaled = scale_down(frame, self.scale);
        let (width, height) = (scaled.width, scaled.height);
        let mut rgba = scaled.to_rgba();
        let mut gif_frame = gif::Frame::from_rgba_speed(width as u16, height as u16, &mut rgba, 10);
        gif_frame.delay = self.delay_centiseconds;
        self.encoder.write_frame(&gif_frame).map_err(|err| format!("cannot write {}: {err}", self.path))
    }
}
