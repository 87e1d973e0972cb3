"""The arena gets the LLM and Greg (issue 15): the model asked at replayed decision times (the
fake OpenAI server on loopback), its recorded decisions replayed when no model is configured,
Greg's covered-call-compatible outcomes; identical players still differ by an interval with 0."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from backtests.arena_players import (
    GREG_NAME,
    LLM_LIVE_NAME,
    LLM_REPLAY_NAME,
    LLMArenaChooser,
    arena_entries,
)
from backtests.domain.arena import ArenaEntry, run_arena
from backtests.domain.greg_replay import GregReplay, call_leg, greg_candidate_strategy
from backtests.domain.replay import RecordedDecision, RecordedReplay
from backtests.domain.simulator import CoveredCallSimulator
from backtests.domain.sources.synthetic import SyntheticSource
from backtests.domain.types import BacktestConfig
from greg.domain.spec import load_spec
from optionsdesk.llm import UnavailableLLMClient
from tests.fake_openai import TEST_API_KEY, FakeOpenAI, FakeOpenAIServer, decision, make_llm_client
from trading.domain.candidates import StrategyParams

DAILY = BacktestConfig(
    strategy=StrategyParams.research(ivrv_min=0.0, explore_prob=0.0), decision_interval_hours=24
)
#: Thresholds under which Greg's calendar check (sell an ATM 7-14 DTE call) fires whenever its
#: sensors exist and the safety filter never does.
CALENDAR_ALWAYS = {
    "safety_adx_high": 1e6,
    "safety_chop_high": 1e6,
    "calendar_term_spread_min": -1e6,
    "calendar_front_rv_iv_ratio_max": 1e6,
    "calendar_vrp_7d_min": -1e6,
}


@pytest.fixture(scope="module")
def short_sim() -> CoveredCallSimulator:
    source = SyntheticSource(seed=5, start=datetime(2025, 3, 1, tzinfo=UTC), days=20)
    return CoveredCallSimulator(source.load_panel(underlying="BTC"))


@pytest.fixture(scope="module")
def greg_sim() -> CoveredCallSimulator:
    source = SyntheticSource(seed=7, start=datetime(2025, 1, 1, tzinfo=UTC), days=75)
    return CoveredCallSimulator(source.load_panel(underlying="BTC"))


def _greg(sim: CoveredCallSimulator) -> GregReplay:
    thresholds = load_spec().entry.thresholds.with_overrides(CALENDAR_ALWAYS)
    return GregReplay(sim.panel, thresholds=thresholds, reevaluate_hours=24)


def _first_ranked(sim: CoveredCallSimulator, config: BacktestConfig) -> list[str]:
    table = sim.policy_selection(config)
    times = np.flatnonzero(
        sim.decision_mask(config.decision_interval_hours) & table.eligible_at_time
    )
    ranked = sim.ranked_rows(int(times[0]), table)
    return [str(n) for n in sim.panel.instrument_name[sim.panel.row_instrument[ranked]]]


# ------------------------------------------------------------------ Greg


def test_only_greg_outcomes_that_sell_a_call_map_to_a_call_sale() -> None:
    spec = load_spec()
    sells_a_call = {o for o in spec.strategies if call_leg(o, spec) is not None}

    assert sells_a_call == {
        "STRATEGY_A_STRADDLE",
        "STRATEGY_A_STRANGLE",
        "STRATEGY_B_CALENDAR",
        "STRATEGY_D_IRON_BUTTERFLY",
        "STRATEGY_F_BEAR_CALL_SPREAD",
    }
    assert call_leg("NO_TRADE", spec) is None
    assert call_leg("STRATEGY_C_SHORT_PUT", spec) is None
    leg, dte_min, dte_max = call_leg("STRATEGY_A_STRANGLE", spec)  # type: ignore[misc]
    assert (leg.target, leg.delta, dte_min, dte_max) == ("delta", 0.15, 30, 45)


def test_a_greg_outcome_without_a_call_is_no_trade_and_a_calendar_sells_the_atm_front_call(
    short_sim,
) -> None:
    replay = GregReplay(short_sim.panel)
    config = DAILY.model_copy(update={"strategy": greg_candidate_strategy()})
    table = short_sim.policy_selection(config)
    t = int(np.flatnonzero(table.eligible_at_time)[30])
    ranked = short_sim.ranked_rows(t, table)

    replay.outcome_at = lambda _t: "STRATEGY_C_SHORT_PUT"  # type: ignore[method-assign,assignment]
    assert replay(t, ranked) is None
    replay.outcome_at = lambda _t: "STRATEGY_B_CALENDAR"  # type: ignore[method-assign,assignment]
    rank = replay(t, ranked)

    assert rank is not None
    panel = short_sim.panel
    inside = ranked[(panel.dte_days[ranked] >= 7) & (panel.dte_days[ranked] <= 14)]
    assert 7 <= panel.dte_days[ranked[rank]] <= 14
    assert abs(panel.delta[ranked[rank]] - 0.5) == np.min(np.abs(panel.delta[inside] - 0.5))


def test_greg_sensors_read_nothing_after_the_decision_time(greg_sim) -> None:
    replay = GregReplay(greg_sim.panel)
    t = 24 * 40 + 5

    inputs = replay.inputs_at(t)

    as_of = inputs.as_of
    assert as_of.timestamp() == greg_sim.panel.times[t]
    assert inputs.hourly_close is not None
    assert inputs.hourly_close.index[-1] <= as_of
    assert inputs.daily is not None
    assert inputs.daily.index[-1] + np.timedelta64(1, "D") <= as_of
    assert inputs.iv_history is not None
    assert inputs.iv_history.index[-1] <= as_of


def test_greg_sells_calls_on_the_replayed_days_and_identical_gregs_differ_by_zero(
    greg_sim,
) -> None:
    config = DAILY.model_copy(update={"strategy": greg_candidate_strategy()})
    entries = [
        ArenaEntry("greg", config, chooser=_greg(greg_sim)),
        ArenaEntry("greg again", config, chooser=_greg(greg_sim)),
    ]

    rows = run_arena(greg_sim, entries, resamples=300)

    first = next(r for r in rows if r.name == "greg")
    again = next(r for r in rows if r.name == "greg again")
    assert first.trades > 0
    assert "STRATEGY_B_CALENDAR" in first.note
    assert again.diff_vs_baseline_usd == 0.0
    assert again.diff_ci_low_usd <= 0.0 <= again.diff_ci_high_usd


# ------------------------------------------------------------------ the LLM


def test_a_configured_llm_is_asked_at_the_replayed_times_and_its_pick_is_sold(
    short_sim, llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    names = _first_ranked(short_sim, DAILY)
    fake.queue(decision("OPEN_COVERED_CALL", symbol=names[1], size=None))
    fake.queue(*[decision("DO_NOTHING") for _ in range(40)])
    chooser = LLMArenaChooser(make_llm_client(llm_server), short_sim.panel)

    result = short_sim.simulate_policy(DAILY, chooser=chooser)

    assert result.trades[0].instrument_name == names[1]
    assert result.trades[0].rank == 1
    assert len(result.trades) == 1
    body = fake.received[0].body
    assert body["response_format"]["json_schema"]["name"] == "covered_call_decision"
    assert names[1] in fake.received[0].messages[1]["content"]
    assert all(TEST_API_KEY not in r.text for r in fake.received)
    assert chooser.calls == len(fake.received)
    assert "LLM configured" in chooser.note()


def test_a_hallucinated_or_failed_llm_answer_is_no_trade(
    short_sim, llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(decision("OPEN_COVERED_CALL", symbol="BTC-1JAN30-999999-C"))
    chooser = LLMArenaChooser(make_llm_client(llm_server), short_sim.panel, max_calls=3)

    result = short_sim.simulate_policy(DAILY, chooser=chooser)

    assert result.trades == []
    assert chooser.calls == 3  # then the cap: later times are not asked
    assert chooser.failures == 2  # the script was exhausted: HTTP 500 twice
    assert chooser.skipped > 0


def test_the_arena_asks_a_configured_llm_and_says_so(
    short_sim, llm_server: FakeOpenAIServer, fake: FakeOpenAI
) -> None:
    fake.queue(*[decision("DO_NOTHING") for _ in range(400)])

    entries, left_out = arena_entries(short_sim, greg=False, client=make_llm_client(llm_server))

    assert left_out == []
    assert entries[-1].name == LLM_LIVE_NAME
    rows = run_arena(short_sim, entries, resamples=200)
    llm = next(r for r in rows if r.name == LLM_LIVE_NAME)
    assert llm.trades == 0
    assert llm.note.startswith("LLM configured")


def test_recorded_llm_decisions_are_replayed_at_their_times(short_sim) -> None:
    names = _first_ranked(short_sim, DAILY)
    table = short_sim.policy_selection(DAILY)
    t = int(np.flatnonzero(short_sim.decision_mask(24) & table.eligible_at_time)[0])
    when = float(short_sim.panel.times[t])
    records = [
        RecordedDecision(when - 600, "OPEN_COVERED_CALL", names[2]),
        RecordedDecision(when + 86400 * 200, "OPEN_COVERED_CALL", names[0]),  # outside the data
    ]
    replay = RecordedReplay(short_sim.panel, records, tolerance_hours=1)

    result = short_sim.simulate_policy(DAILY, chooser=replay)

    assert [trade.instrument_name for trade in result.trades] == [names[2]]
    assert replay.recorded == 2
    assert replay.matched == 1
    assert replay.sales == 1
    assert "not configured" in replay.note()


@pytest.mark.django_db
def test_without_a_model_the_arena_replays_recorded_llm_decisions_or_says_none_exist(
    short_sim,
) -> None:
    from trading.models import Decision

    entries, left_out = arena_entries(short_sim, greg=False, client=UnavailableLLMClient())
    assert LLM_REPLAY_NAME not in [e.name for e in entries]
    assert left_out
    assert "no recorded LLM decisions" in left_out[0]

    names = _first_ranked(short_sim, DAILY)
    when = datetime.fromtimestamp(float(short_sim.panel.times[0]), tz=UTC)
    proposal = {
        "action": "OPEN_COVERED_CALL",
        "legs": [{"direction": "sell", "instrument_name": names[0]}],
    }
    Decision.objects.create(
        market_time=when,
        environment="testnet",
        mode="research",
        policy_version="llm_v1",
        params_hash="abc",
        decision_mode="llm_only",
        decision_source="llm",
        dry_run=True,
        action="OPEN_COVERED_CALL",
        underlying="BTC",
        verdict_code="APPROVED",
        llm_record={"status": "ok", "proposal": proposal},
    )

    entries, left_out = arena_entries(short_sim, greg=False, client=UnavailableLLMClient())

    assert left_out == []
    replayed = entries[-1]
    assert replayed.name == LLM_REPLAY_NAME
    again = ArenaEntry("replayed again", replayed.config, chooser=replayed.chooser)
    rows = run_arena(short_sim, [replayed, again], resamples=200)
    llm = next(r for r in rows if r.name == LLM_REPLAY_NAME)
    assert llm.trades == 1
    assert "1 recorded LLM decision(s) replayed" in llm.note
    same = next(r for r in rows if r.name == "replayed again")
    assert same.diff_vs_baseline_usd == 0.0
    assert same.diff_ci_low_usd <= 0.0 <= same.diff_ci_high_usd


def test_the_default_arena_includes_greg(short_sim, monkeypatch) -> None:
    monkeypatch.setattr(
        "greg.selectors.thresholds_current", lambda: (0, load_spec().entry.thresholds)
    )

    entries, _ = arena_entries(short_sim, llm=False)

    assert entries[-1].name == GREG_NAME
    assert entries[-1].config.strategy == greg_candidate_strategy()
