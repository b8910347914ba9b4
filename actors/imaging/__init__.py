"""Compress one image: bytes and options in, bytes and facts out. Pure: no I/O, no config.

The pixel limit is checked from the header, before any pixel is decoded. JPEGs that will be
downscaled are decoded at a reduced scale (`draft`). EXIF orientation is applied, metadata is
dropped but the ICC profile kept, and a re-encode that does not shrink an unchanged image in its
own format gives way to the original bytes. A legacy input (GIF, BMP, TIFF, PPM) asked to stay
`original` becomes the smaller of the formats that store it faithfully: PNG, and JPEG for an
opaque photograph (both encoded whole; with `quality="auto"`, compared on the search's sample).
`quality="auto"` and `format="auto"` are settled on a small sample of the decoded image
(`actors.autotune`); the whole image is then encoded once.

Its public face is `compress`, the `JobOptions` it takes (from `actors.options`, where the API
and the CLI build them too), `Compressed`, and `encode_pixels` (the quality search's encoder).
The steps beneath, each used only from here:
- `compression`: `compress` itself, and the plans of which formats and qualities to encode at;
- `decoding`: bytes to oriented, fitted, 8-bit pixels, within the pixel limit;
- `pixels`: pixel modes, converted to what each output format stores; photographs told from
  graphics;
- `encoding`: pixels to the output format's bytes.
"""

from actors.formats import FORMAT_EXTENSIONS
from actors.imaging.compression import compress, encode_pixels
from actors.imaging.encoding import Compressed
from actors.options import JobOptions

__all__ = ["FORMAT_EXTENSIONS", "Compressed", "JobOptions", "compress", "encode_pixels"]
