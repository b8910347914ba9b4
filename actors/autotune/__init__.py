"""`quality=auto` and `format=auto`: the smallest output that still looks good enough.

"Good enough" is a perceptual target on SSIMULACRA2's scale (0..100, higher is closer to the
input). Scoring a whole photo is far too slow to do a few times per image, so everything is
decided on a *sample*, then the whole image is encoded once, in the format whose output came out
smallest, at the quality found for it. Two kinds of sample:

- for JPEG, sixteen 64×64 tiles cut from the decoded image on its 16-pixel grid, picked to span
  its range of detail (flat sky to foliage) and pasted into one 256×256 image: the pixels keep
  their scale and JPEG cuts its blocks exactly as in the whole image;
- for WebP and AVIF, whose encoders decide globally (segments, filters, partitions) and treat a
  mosaic of unrelated tiles much harsher than the photo, the whole image scaled down to ~0.15 MP.

Each format's quality is found in a few encodes of its sample (a bracketing secant search). The
fast score (`actors.perceptual`) reads a little differently from SSIMULACRA2 and a sample behaves
a little differently from its image, so each format has a measured linear map from the sample's
fast score to the whole image's SSIMULACRA2: `CALIBRATION`. Sizes are compared between formats
on one sample, the same pixels for all.

Importing this package loads NumPy (`samples`, `actors.perceptual`), which is why
`actors.imaging` imports it only when an image asks for `quality=auto`. Its public face is
`choose`, and what the tests and the benchmark measure it with. The parts beneath, each used
only from within this package:
- `calibration`: each format's measured map from a sample's fast score to the whole image's;
- `choice`: `choose` itself, which searches each format and compares them on one sample;
- `quality_search`: the search for the lowest quality whose score reaches a goal;
- `samples`: the tile mosaic and the scaled-down image that stand for a photo;
- `viewer`: pixels as a viewer sees them, and bytes decoded back to pixels.
"""

from actors.autotune.calibration import CALIBRATION, COMMON_SAMPLER, PNG_CALIBRATION, Calibration
from actors.autotune.choice import Choice, Encoder, choose
from actors.autotune.quality_search import CLOSE_ENOUGH, MAX_PROBES, QUALITIES, Probe, pick, search
from actors.autotune.samples import SHRUNK_PIXELS, TILE, TILES, sample, sample_of, shrunk
from actors.autotune.viewer import decoded, visible

__all__ = [
    "CALIBRATION",
    "CLOSE_ENOUGH",
    "COMMON_SAMPLER",
    "MAX_PROBES",
    "PNG_CALIBRATION",
    "QUALITIES",
    "SHRUNK_PIXELS",
    "TILE",
    "TILES",
    "Calibration",
    "Choice",
    "Encoder",
    "Probe",
    "choose",
    "decoded",
    "pick",
    "sample",
    "sample_of",
    "search",
    "shrunk",
    "visible",
]
