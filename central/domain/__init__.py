"""Central domain logic. Functions take a SQLAlchemy `Session`, flush but never commit (the caller owns the
transaction), take an explicit `now` where time matters, and raise `central.domain.errors.DomainError`
subclasses (with an HTTP status) for refused requests.

- registry     shops and zones: create / update / list, CSV + GeoJSON import (row-level errors) and export
- matching     event → shop: (camera, zone), reported shop id, drone point → STRtree over footprints
- ownerless    the queue of unmatched events; assignment remembered per zone
- cases        the case state machine: open/attach, confirm/dismiss, recheck, officer tasks, penalty, close
- strikes      three strikes in a rolling window → advice / rectification notice / penalty
- grades       vectorised grade engine with pluggable rule sets; history of every change
- inspections  checklist visits and the due list for a day
- hotspots     addresses with many tickets; road grades
- stats        grade distribution over time, violations per day, self-rectification rate
- audit        hash-chained audit records and chain verification
"""
