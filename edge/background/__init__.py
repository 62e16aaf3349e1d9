"""Static-object model: what has been set down in a camera's zones and stays there.

For each zone the model keeps a reference image of the empty zone (a downscaled crop of the zone's bounding
box plus a margin) and, per pixel, how long it has differed from that reference. It is built to survive a
pole camera's conditions:

- lighting drift and sudden exposure steps: each frame's gain (per zone and colour channel) is estimated as
  the median ratio frame/reference over pixels that are currently background, and the frame is divided by
  it before comparing;
- a few pixels of shake: a pixel is foreground only when it lies outside the [min, max] of the reference
  over a small neighbourhood (radius ~ the shake), so edges that move by a pixel or two do not count;
- people and vehicles: their boxes (expanded) are masked out; masked pixels neither count nor learn, and
  keep their state, so an object stays "static" while someone walks in front of it;
- sensor clipping: a channel expected near the clip level may not read darker than it, and a channel
  learned while clipped has no upper bound; strong edges (local contrast above `edge_knee`) get a higher
  threshold (compression ringing); the frame's outermost few pixels are never judged.
- a changed view (the camera bumped or turned, also while the edge was down and its reference was saved):
  when most of the zones' surroundings stop matching the reference for `view_change_s`, the zones learn
  afresh, since static pixels are never learned and every pixel would otherwise stay a pile for good.

Foreground that persists `static_after_s` seconds becomes static. The reference learns only from pixels
that are background now and not next to foreground (else an object would creep into the reference from
its rim inwards); static pixels are never absorbed, so a stationary object does not fade out, and
when it is taken away the pixels match the reference again (no ghost) and are released after
`release_s` seconds. Pixels never seen without a person in front are "unknown" until they are seen.
All timers are in seconds of stream time, so any analysis frame rate works.

Cost: a camera's zones (those sharing parameters and mover group) are stacked one under the other in one
canvas (a `_Sheet`), whatever their shake radius, with gaps wide enough that no filter reaches from one zone
into the next, so every per-pixel step is one numpy/OpenCV call for all zones at once; only the shake and
guard filters run once per run of rows of one radius. Each canvas row belongs to at most one zone, so per-zone
values (gain, time step, warm-up) are per-row vectors that broadcast. `StaticBank` holds a camera's sheets.
Colour images are stored channels-first, the neighbourhood min/max, the guard dilation and the 3x3 opening are
flat shifted slices (bit-identical to OpenCV's ellipse erode/dilate, several times cheaper), each zone's
medians come from one partition, the clipping tests are skipped where a band holds no clipped input pixel,
connected components are labelled only where a zone holds static pixels, and a step runs band by band. What is
left is per-pixel arithmetic (mostly the shake filters: about 40 passes over the three colour planes per
update) and the crops' `INTER_AREA` downscale (a fifth of it with 5 zones), both exact and about as cheap as
numpy and OpenCV make them; scripts/bench/static_model.py measures it (results bit for bit those of the whole-
canvas version).

Modules: `kernels` (constants, medians, the min/max filters), `layout` (parameters, state, tiles and bands),
`sheet` (one canvas of zones, stepped band by band), `bank` (a camera's sheets). `testkit.static_zone` has
the model of a single zone, with its arrays as views, for tests.
"""

from edge.background.bank import StaticBank
from edge.background.layout import StaticModelParams, StaticState, kernel_radius

__all__ = ["StaticBank", "StaticModelParams", "StaticState", "kernel_radius"]
