"""SceneAnalyzer: per camera, turns frames + detections into zone violation events.

For each zone it runs the static-object model (piled goods) and the goods-in-zone test (cross-door
trading), turns them into rule conditions (`edge.rules`) and feeds them to an episode tracker
(`edge.lifecycle`) that emits start / update / end `ZoneEvent`s. Call `update` once per analysed frame in
stream-time order; any analysis frame rate works because every timer is in seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from edge.background import StaticBank, StaticModelParams, StaticState
from edge.events import ZoneEvent
from edge.lifecycle import ZONE_CHANGED, ZONE_REMOVED, EpisodeTracker
from edge.rules import Condition, piled_goods
from edge.standing import StandingPeople
from edge.trading import StillTracks, TradingFrame, TradingJudge, unclaimed_share
from edge.vehicles import VehicleMasks
from models.classes import COCO80
from models.detections import Detections
from wire.schema import CROSS_DOOR_TRADING, PILED_GOODS
from zones.door import door_distance, on_street_side, street_normal
from zones.fit import check_fit, scale_for
from zones.membership import ZoneMembership
from zones.model import CameraZones, Zone
from zones.rules import RuleConfig

log = logging.getLogger("doorline.edge.analyzer")

_NO_BOXES = np.zeros((0, 4), np.float32)


def class_names(detections: Detections) -> np.ndarray:
    """Class name per detection: `data["class_name"]`, else COCO-80 names by class id."""
    if "class_name" in detections.data:
        return np.asarray(detections.data["class_name"]).astype(str)
    names = np.asarray(list(COCO80), dtype=object)
    ids = detections.class_id.astype(np.int64)
    ok = (ids >= 0) & (ids < len(names))
    out = np.full(len(ids), "", dtype=object)
    out[ok] = names[ids[ok]]
    return out.astype(str)


def has_role(detections: Detections, role: str) -> np.ndarray:
    """Detections whose class the model card gives `role` (person, vehicle, goods): a fine-tuned model's own
    classes (e.g. `rubbish_bag`, `vendedor_ambulante`) count for the rules without being listed in them."""
    roles = detections.data.get("role")
    if roles is None:
        return np.zeros(len(detections), dtype=bool)
    return np.asarray(roles).astype(str) == role


def standing_on(state: StaticState) -> np.ndarray:
    """The static objects' boxes with their bottom at the centre of their lowest row of model pixels, half a
    pixel above the box's edge: the row an object stands on. An object whose last row lies in the zone, along
    its bottom edge, stands in the zone (the box's edge can lie a fraction of a pixel beyond it)."""
    return state.boxes - np.float32([0, 0, 0, 0.5 * state.pixel])


def _door_side_ok(zone: Zone, points: np.ndarray) -> np.ndarray:
    """Points on the street side of the zone's door line: the side its interior touches (`zones.door`)."""
    if zone.door_line is None or len(points) == 0:
        return np.ones(len(points), bool)
    return on_street_side(zone.door_line, street_normal(zone.polygon, zone.door_line), points)


def _at_door(zone: Zone, xyxy: np.ndarray, reach: float) -> np.ndarray | None:
    """Per box: its bottom-centre lies behind the zone's door line within `reach` of its height of the door
    (someone in the shop's doorway); None without a door line."""
    if zone.door_line is None or len(xyxy) == 0:
        return None
    feet = np.stack([(xyxy[:, 0] + xyxy[:, 2]) / 2, xyxy[:, 3]], axis=1).astype(np.float64)
    behind = ~on_street_side(zone.door_line, street_normal(zone.polygon, zone.door_line), feet)
    return behind & (door_distance(zone.door_line, feet) <= reach * (xyxy[:, 3] - xyxy[:, 1]))


class SceneAnalyzer:
    def __init__(self, zones: CameraZones, rules: RuleConfig | None = None,
                 static_params: StaticModelParams | None = None) -> None:
        self.camera = zones
        base = rules or zones.rules
        self.rules = {z.zone_id: base.merged(z.rules) for z in zones.zones}
        # zones usually share their rule classes: class membership is tested once per distinct set per frame
        self._class_key = {zid: self._classes_key(r) for zid, r in self.rules.items()}
        self._class_rules = {self._class_key[zid]: r for zid, r in self.rules.items()}
        self.zones = {z.zone_id: z for z in zones.zones}
        self.static_params = static_params
        self.trackers = {
            (z.zone_id, v): EpisodeTracker(z.zone_id, z.shop_id, v, self.rules[z.zone_id])
            for z in zones.zones for v in z.violations
        }
        self.still = StillTracks()  # camera-wide: how long each track has stood still
        self.vehicle_masks = VehicleMasks()  # camera-wide: which vehicles hide their box from the static model
        self.standing = StandingPeople()  # camera-wide: which people stand (the static model's texture cue)
        self.trading = {z.zone_id: TradingJudge() for z in zones.zones if CROSS_DOOR_TRADING in z.violations}
        self._frame_size: tuple[int, int] | None = None
        self._drawn_for: tuple[int, int] | None = None  # zones without a frame_size: the first frames' size
        self.frame_size_changes = 0
        self._scaled: dict[str, Zone] = {}
        self.static_bank: StaticBank | None = None
        self.membership: ZoneMembership | None = None
        self.last: dict[tuple[str, str], Condition] = {}
        self.last_static: dict[str, StaticState] = {}
        self._static_spec: dict[str, tuple[np.ndarray, StaticModelParams, tuple]] = {}
        # a snapshot of the static-object model (a restarted live camera's, edge.reference_store), applied when
        # the model is built for the first frame
        self.saved_reference: Mapping[str, Mapping[str, np.ndarray]] | None = None

    # ------------------------------------------------------------------ setup
    def _setup(self, frame_size: tuple[int, int]) -> None:
        """(Re)build masks for frames of `frame_size`; polygons drawn for another size are scaled. Raises
        `zones.fit.ZoneFitError` when the zones do not fit such frames (another image shape, a point outside)."""
        check_fit(self.camera, frame_size, self._drawn_for)
        if self.camera.frame_size is None and self._drawn_for is None:
            self._drawn_for = frame_size
        self._frame_size = frame_size
        sx, sy = scale_for(self.camera, frame_size, self._drawn_for)
        self._scaled = {}
        for z in self.camera.zones:
            poly = z.polygon * (sx, sy)
            line = None if z.door_line is None else z.door_line * (sx, sy)
            self._scaled[z.zone_id] = Zone(z.zone_id, z.shop_id, poly, line, z.violations, z.rules)
        scaled = list(self._scaled.values())
        self.membership = ZoneMembership(scaled, frame_size)
        params = self.static_params or StaticModelParams()
        static: dict[str, tuple[np.ndarray, StaticModelParams, tuple]] = {}
        for z in scaled:  # trading is told apart from piles on the same static objects
            if PILED_GOODS in z.violations or CROSS_DOOR_TRADING in z.violations:
                r = self.rules[z.zone_id]
                p = StaticModelParams(**{**params.__dict__, "static_after_s": r.static_after_s,
                                         "shake_px": r.shake_px})
                static[z.zone_id] = (z.polygon, p, self._class_key[z.zone_id])
        self.static_bank = StaticBank(static, frame_size) if static else None
        self._static_spec = static
        if self.static_bank is not None and self.saved_reference is not None:
            try:
                restored = self.static_bank.restore(self.saved_reference)
                if restored:
                    log.info("camera %s: zones %s start from their saved empty-zone reference",
                             self.camera.camera_id, ", ".join(restored))
            except (KeyError, ValueError) as exc:  # a damaged snapshot: learn afresh, as without one
                log.warning("camera %s: saved zone reference not used: %s", self.camera.camera_id, exc)
                self.static_bank = StaticBank(static, frame_size)
        self.saved_reference = None

    def _resize(self, frame_size: tuple[int, int]) -> None:
        """The frames changed size mid-run (the camera's stream was reconfigured): rebuild for the new size and
        carry every zone's learned empty zone, static objects and timers over, rescaled, so open episodes go
        on and an object standing in a zone is not learned as empty street."""
        old_size, old_bank = self._frame_size, self.static_bank
        self._setup(frame_size)
        self.frame_size_changes += 1
        carried = self.static_bank.take_zones(old_bank, list(self._static_spec)) if (
            self.static_bank is not None and old_bank is not None) else []
        open_now = sum(1 for t in self.trackers.values() if t.active)
        log.warning("camera %s: frames changed size from %dx%d to %dx%d: zones rescaled, %d piled-goods zones "
                    "carried over, %d open episodes go on", self.camera.camera_id, *old_size, *frame_size,
                    len(carried), open_now)

    def polygon(self, zone_id: str, frame_size: tuple[int, int]) -> np.ndarray:
        """The zone's polygon in the pixels of frames of `frame_size`, as this analyzer scales it."""
        return self.camera.zone(zone_id).polygon * scale_for(self.camera, frame_size, self._drawn_for)

    @property
    def view_changes(self) -> int:
        """Times the piled-goods zones learned afresh because the camera's view itself had changed."""
        return self.static_bank.view_changes if self.static_bank is not None else 0

    @property
    def restored_zones(self) -> list[str]:
        """Piled-goods zones running on a saved reference (not those whose view had changed)."""
        return self.static_bank.restored_zones if self.static_bank is not None else []

    @staticmethod
    def _classes_key(r: RuleConfig) -> tuple[object, ...]:
        return (r.min_confidence, r.person_max_aspect, tuple(r.person_classes), tuple(r.vehicle_classes),
                tuple(r.goods_classes))

    @property
    def zone_masks(self) -> dict[str, np.ndarray]:
        """Bool (h, w) mask per zone id in the current frame size (empty before the first frame)."""
        if self.membership is None:
            return {}
        return dict(zip(self.membership.zone_ids, self.membership.masks, strict=True))

    # ------------------------------------------------------------------ main step
    def update(self, frame_bgr: np.ndarray, ts: float, detections: Detections) -> list[ZoneEvent]:
        h, w = frame_bgr.shape[:2]
        if self._frame_size != (w, h):
            if self._frame_size is None:
                self._setup((w, h))
            else:
                self._resize((w, h))
        assert self.membership is not None
        names = class_names(detections)
        card_person, card_vehicle, card_goods = (has_role(detections, g) for g in ("person", "vehicle", "goods"))
        events: list[ZoneEvent] = []
        anchors_cache: dict[tuple[str, float], np.ndarray] = {}
        groups: dict[tuple[object, ...], tuple[np.ndarray, ...]] = {}
        xyxy = detections.xyxy
        box_w, box_h = xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]
        still_s, mean_conf = self.still.update(detections, ts)
        vehicles = {key: (np.isin(names, r.vehicle_classes) | card_vehicle)
                    & (detections.confidence >= r.min_confidence) for key, r in self._class_rules.items()}
        any_vehicle = np.zeros(len(detections), bool)
        for is_vehicle in vehicles.values():
            any_vehicle |= is_vehicle
        masks_vehicle = np.zeros(len(detections), bool)
        ids = detections.tracker_id if detections.tracker_id is not None else np.full(len(detections), -1)
        masks_vehicle[any_vehicle] = self.vehicle_masks.update(
            xyxy[any_vehicle], self.still.moved(ids[any_vehicle]), ts)  # (only the vehicles' tracks looked up)
        for key, r in self._class_rules.items():
            keep = detections.confidence >= r.min_confidence
            is_person = (np.isin(names, r.person_classes) | card_person) & keep
            # a "person" much wider than tall is a misdetected object: masking it would hide that object
            upright = box_w <= r.person_max_aspect * box_h
            is_vehicle = vehicles[key]
            groups[key] = (is_person, (is_person & upright) | (is_vehicle & masks_vehicle),
                           (np.isin(names, r.goods_classes) | card_goods) & keep & ~is_vehicle, is_vehicle,
                           is_person & upright)
        static: dict[str, StaticState] = {}
        if self.static_bank is not None:  # every piled-goods zone of the camera in one pass
            people = np.zeros(len(detections), bool)
            for g in groups.values():
                people |= g[4]
            standing = np.zeros(len(detections), bool)
            standing[people] = self.standing.update(xyxy[people], ts)
            static = self.static_bank.update(frame_bgr, ts, {k: xyxy[g[1]] for k, g in groups.items()},
                                             {k: xyxy[g[4] & standing] for k, g in groups.items()})
            self.last_static.update(static)
        for zid, zone in self._scaled.items():
            r = self.rules[zid]
            _, _, is_goods, is_vehicle, upright = groups[self._class_key[zid]]
            state = static.get(zid)
            claimed = np.zeros(0, bool)
            if CROSS_DOOR_TRADING in zone.violations:
                key = (r.anchor, r.min_overlap)
                if key not in anchors_cache:
                    anchors_cache[key] = self.membership.trigger(detections, r.anchor, r.min_overlap)
                col = anchors_cache[key][:, self.membership.zone_ids.index(zid)]
                if col.any():
                    col = col & _door_side_ok(zone, detections.anchors("bottom_center"))
                frame = TradingFrame(xyxy, upright, is_goods, is_vehicle, still_s, mean_conf)
                ready = state is not None and state.ready
                boxes = state.boxes if ready else _NO_BOXES
                feet = standing_on(state) if ready else boxes
                placed = self.membership.anchors_in(Detections(feet, np.ones(len(boxes), np.float32),
                                                               np.zeros(len(boxes), np.int32)))
                zone_col = self.membership.zone_ids.index(zid)
                cond, claimed = self.trading[zid].step(frame, col, boxes, placed[:, zone_col],
                                                       state.onset_age_s if ready else 0.0, ts, r,
                                                       _at_door(zone, xyxy, r.tend_reach))
                self.last[(zid, CROSS_DOOR_TRADING)] = cond
                events.extend(self.trackers[(zid, CROSS_DOOR_TRADING)].step(cond, ts))
            if PILED_GOODS in zone.violations:
                assert state is not None
                holding = self.trackers[(zid, PILED_GOODS)].holding
                if state.ready:
                    left = claimed if len(claimed) == len(state.boxes) else np.zeros(len(state.boxes), bool)
                    cond = piled_goods(state.coverage * unclaimed_share(state.boxes, left), state.boxes[~left],
                                       r, state.onset_age_s, holding)
                else:
                    cond = Condition(False, 0.0)
                self.last[(zid, PILED_GOODS)] = cond
                events.extend(self.trackers[(zid, PILED_GOODS)].step(cond, ts))
        return events

    # ------------------------------------------------------------------ reload
    def take_over(self, old: SceneAnalyzer, ts: float) -> list[ZoneEvent]:
        """Continue where `old` (the analyzer of the camera's previous zones) left off, at stream time `ts`.

        A zone that is unchanged (same polygon, door line, shop, violations and rules) keeps its timers and
        open episodes, and a piled-goods zone its learned empty zone and static objects (carried into the new
        model even when other zones changed). Every other open episode ends now, so that central does not
        wait for an end that would never come: reason `zone_removed` when the zone (or the violation) is gone,
        `zone_changed` when it was redrawn or its rules changed. Returns those `end` events. Raises
        `zones.fit.ZoneFitError` (before anything changes) when the new zones do not fit the frames."""
        self._drawn_for = old._drawn_for
        self.frame_size_changes = old.frame_size_changes
        if old._frame_size is not None:
            self._setup(old._frame_size)
        same = {
            zid for zid, z in self.zones.items()
            if zid in old.zones and _same_zone(z, old.zones[zid]) and self.rules[zid] == old.rules[zid]
        }
        static_same = {
            zid for zid in same
            if zid in self._static_spec and zid in old._static_spec
            and _same_static({zid: self._static_spec[zid]}, {zid: old._static_spec[zid]})
        }
        carried_static: set[str] = set()
        if old.static_bank is not None and self.static_bank is not None:
            if _same_static(self._static_spec, old._static_spec):
                self.static_bank = old.static_bank  # nothing changed: the very same model goes on
                carried_static = set(self._static_spec)
            else:
                carried_static = set(self.static_bank.take_zones(old.static_bank, sorted(static_same)))
            self.last_static = {z: st for z, st in old.last_static.items() if z in carried_static}
        self.still = old.still
        self.vehicle_masks = old.vehicle_masks
        for zid in same & set(self.trading) & set(old.trading):
            self.trading[zid] = old.trading[zid]
        ended: list[ZoneEvent] = []
        for key, tracker in old.trackers.items():
            zid, violation = key
            carried = key in self.trackers and zid in same and (violation != PILED_GOODS or zid in carried_static)
            if carried:
                self.trackers[key] = tracker
                if key in old.last:
                    self.last[key] = old.last[key]
                continue
            reason = ZONE_REMOVED if key not in self.trackers else ZONE_CHANGED
            end = tracker.close(ts, reason)
            if end is not None:
                ended.append(end)
        return ended

    # ------------------------------------------------------------------ recheck
    def assess(self, zone_id: str) -> tuple[str, float, np.ndarray]:
        """("present" | "clear" | "unknown", score, boxes) for a zone, from the latest frame."""
        if zone_id not in self.zones:
            raise KeyError(f"no zone {zone_id!r} on camera {self.camera.camera_id!r}")
        conds = [c for (z, _), c in self.last.items() if z == zone_id]
        if not conds:
            return "unknown", 0.0, _NO_BOXES
        state = self.last_static.get(zone_id)
        present = [c for c in conds if c.present]
        if present:
            best = max(present, key=lambda c: c.score)
            return "present", best.score, best.boxes
        if state is not None and (not state.ready or state.known < 0.5):
            return "unknown", 0.0, _NO_BOXES
        return "clear", 0.0, _NO_BOXES

    def reset_zone(self, zone_id: str) -> None:
        """Forget the zone's episodes, timers and learned background (e.g. after the zone was edited)."""
        if zone_id not in self.zones:
            raise KeyError(f"no zone {zone_id!r} on camera {self.camera.camera_id!r}")
        for (z, v), tracker in self.trackers.items():
            if z == zone_id:
                tracker.reset()
                self.last.pop((z, v), None)
        if self.static_bank is not None and zone_id in self.static_bank:
            self.static_bank.reset(zone_id)
        self.last_static.pop(zone_id, None)


def _same_zone(a: Zone, b: Zone) -> bool:
    lines = (a.door_line is None and b.door_line is None) or (
        a.door_line is not None and b.door_line is not None and np.array_equal(a.door_line, b.door_line)
    )
    return (
        lines
        and np.array_equal(a.polygon, b.polygon)
        and (a.shop_id, tuple(a.violations), a.rules) == (b.shop_id, tuple(b.violations), b.rules)
    )


def _same_static(a: dict[str, tuple[np.ndarray, StaticModelParams, tuple]],
                 b: dict[str, tuple[np.ndarray, StaticModelParams, tuple]]) -> bool:
    return list(a) == list(b) and all(
        np.array_equal(a[z][0], b[z][0]) and a[z][1:] == b[z][1:] for z in a
    )
