"""Due list for a date: red daily, yellow weekly, green monthly; by road and area; ordered."""

from __future__ import annotations

from datetime import date, timedelta

from central.domain.inspections import due_list, record_inspection
from central.orm.shops import Shop

from .conftest import T0


def test_due_list_for_a_date(any_session, any_world, settings) -> None:
    s, w = any_session, any_world
    spec = {  # id: (grade, road, area, days since last inspection or None)
        "R1": ("red", "Main Road", "North", 1),  # red, inspected yesterday → due
        "R2": ("red", "Main Road", "North", 0),  # red, inspected today → not due
        "Y1": ("yellow", "Main Road", "North", 3),  # yellow, 3 days → not due
        "Y2": ("yellow", "Side Street", "North", 8),  # yellow, 8 days → due (1 day overdue)
        "G1": ("green", "Side Street", "North", 29),  # green, 29 days → not due
        "G2": ("green", "Main Road", "South", None),  # never inspected → due
        "G3": ("green", "Main Road", "North", 45),  # 15 days overdue
    }
    day = date(2026, 3, 20)
    for i, (sid, (_grade, road, area, ago)) in enumerate(spec.items()):
        w.shop(sid, zone=f"z{sid}", road=road, area=area, address=f"{10 + i} {road}")
        if ago is not None:
            at = T0.replace(year=day.year, month=day.month, day=day.day) - timedelta(days=ago)
            record_inspection(s, sid, inspector="li", waste=80, sanitation=80, advertising=80, at=at, settings=settings)
    s.flush()
    for sid, (grade, *_rest) in spec.items():
        s.get(Shop, sid).grade = grade
    s.flush()

    due = due_list(s, day, settings=settings)
    assert [d.shop_id for d in due] == ["R1", "G3", "Y2", "G2"]  # route order: area, road, address
    by_id = {d.shop_id: d for d in due}
    assert by_id["Y2"].overdue_days == 1 and by_id["G3"].overdue_days == 15 and by_id["G2"].overdue_days is None
    assert [d.shop_id for d in due_list(s, day, settings=settings, road="Main Road", area="North")] == [
        "R1",
        "G3",
    ]
    assert [d.shop_id for d in due_list(s, day, settings=settings, order="priority")] == [
        "R1",
        "Y2",
        "G2",
        "G3",
    ]
    # configurable frequency: greens every 60 days → G3 (45 days) no longer due
    slow = settings.model_copy(update={"inspection_days": {"red": 1, "yellow": 7, "green": 60}})
    assert "G3" not in {d.shop_id for d in due_list(s, day, settings=slow)}
