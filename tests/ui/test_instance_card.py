"""An instance card of a fleet member shows its lease health; a local one shows none."""

from __future__ import annotations

from app.domain.events import InstanceLoad
from app.domain.models import InstanceInfo
from app.ui.instances_model import InstancesModel
from app.ui.instances_view import InstanceCard

HEALTH = "leases: 12 held, oldest renewed 3 s ago, 2 expired (waiting for another member)"


def test_a_fleet_member_card_shows_its_lease_health(qtbot) -> None:
    model = InstancesModel()
    model.load(
        [
            InstanceInfo(instance_id="m1", index=0, alive=True, capacity=50, lease_health=HEALTH),
            InstanceInfo(instance_id="i-1", index=1, alive=True, capacity=50),
        ]
    )
    assert model.any_leases()
    # A load sample (from the member's event stream) keeps what only the list carries.
    model.apply([InstanceLoad(instance_id="m1", alive=True, cpu_percent=20, capacity=50)])
    member, local = InstanceCard("m1"), InstanceCard("i-1")
    qtbot.addWidget(member)
    qtbot.addWidget(local)
    member.refresh(model)
    local.refresh(model)
    assert member.meta.text().endswith("\n" + HEALTH)
    assert "leases" not in local.meta.text()


def test_local_instances_alone_need_no_lease_refresh() -> None:
    model = InstancesModel()
    model.load([InstanceInfo(instance_id="i-1", index=1, alive=True)])
    assert not model.any_leases()
