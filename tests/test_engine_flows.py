"""The dialogue's flows with a deterministic fake NLU and catalogue (the logic, not the model)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.dialogue.state import DialogueState
from bot.engine import DialogueEngine
from bot.models import Conversation, Message
from bot.privacy import PRIVACY_VERSION
from bot.types import Channel, Inbound, InboundKind, Outbound, StoredMessage
from handoff.models import Handoff
from tests.fixtures_chat import FakeCatalog, FakeNLU, assert_customs_valid


class Person:
    """A citizen on one channel, talking to the engine directly."""

    def __init__(self, engine: DialogueEngine, sender: str = "p1", channel: Channel = "web") -> None:
        self.engine = engine
        self.sender = sender
        self.channel = channel
        self.last: list[StoredMessage] = []

    async def says(self, text: str, **kw: Any) -> list[StoredMessage]:
        self.last = await self.engine.handle(
            Inbound(channel=self.channel, sender=self.sender, text=text, **kw)
        )
        return self.last

    async def sends(self, kind: InboundKind, **kw: Any) -> list[StoredMessage]:
        self.last = await self.engine.handle(
            Inbound(channel=self.channel, sender=self.sender, kind=kind, **kw)
        )
        return self.last

    async def taps(self, title: str) -> list[StoredMessage]:
        for m in reversed(self.last):
            for b in m.buttons:
                if b.title == title:
                    return await self.says(b.payload)
        raise AssertionError(f"no button {title!r}: {[b.title for m in self.last for b in m.buttons]}")

    @property
    def text(self) -> str:
        return "\n".join(m.text for m in self.last)

    @property
    def types(self) -> list[str]:
        return [m.custom["type"] for m in self.last if m.custom]

    def custom(self, kind: str) -> dict[str, Any]:
        return next(m.custom for m in self.last if m.custom and m.custom["type"] == kind)

    @property
    def payloads(self) -> list[str]:
        return [b.payload for m in self.last for b in m.buttons]

    async def conversation(self) -> Conversation:
        conv = await self.engine.conversation_for(self.channel, self.sender, create=False)
        assert conv is not None
        return conv

    async def state(self) -> DialogueState:
        return DialogueState.load((await self.conversation()).state)


@pytest.fixture
def person(sqlite_dialogue: DialogueEngine) -> Person:
    return Person(sqlite_dialogue)


@pytest.fixture(autouse=True)
async def _customs_validate(sqlite_dialogue: DialogueEngine, custom_validator: Any):  # type: ignore[no-untyped-def]
    """After every test: every structured payload the engine stored validates against the schema."""
    yield
    await assert_customs_valid(sqlite_dialogue.sessionmaker, custom_validator)


async def handoffs(engine: DialogueEngine) -> list[Handoff]:
    async with engine.sessionmaker() as s:
        return list(await s.scalars(select(Handoff).order_by(Handoff.id)))


# --- welcome and privacy -------------------------------------------------------------------------


async def test_a_greeting_gets_the_welcome_privacy_notice_and_three_buttons(person: Person) -> None:
    await person.says("ciao")
    assert len(person.last) == 2
    assert "Bussola" in person.last[0].text
    notice = person.last[1].text
    assert "30 giorni" in notice and "12 mesi" in notice and "/privacy" in notice
    assert "operatore" in notice  # who reads it if a facilitator takes over
    assert [b.title for b in person.last[1].buttons] == [
        texts.BTN_FOR_ME,
        texts.BTN_FOR_OTHER,
        texts.BTN_PERSON,
    ]
    assert person.payloads == ["/per_me", "/per_altri", "/persona"]
    st = await person.state()
    assert st.welcomed and st.privacy_version == PRIVACY_VERSION


async def test_start_command_welcomes_too(person: Person) -> None:
    await person.says("/start")
    assert person.payloads == ["/per_me", "/per_altri", "/persona"]


async def test_writing_the_problem_first_skips_the_menu_but_not_the_privacy_notice(
    person: Person, fake_catalog: FakeCatalog
) -> None:
    await person.says("cerco casa a Collegno")
    assert "privacy" in person.last[0].text.lower()
    assert "/per_me" not in person.payloads
    services = person.custom("services")
    assert services["needs"] == ["casa"]
    assert [s["id"] for s in services["services"]] == ["casa-1", "casa-2", "casa-3"]
    assert fake_catalog.queries[-1].comune_istat == "001090"
    assert "question" not in person.types  # nothing missing: no question asked
    # The notice is shown once only.
    await person.says("grazie")
    assert "privacy" not in person.text.lower()


# --- understanding -------------------------------------------------------------------------------


async def test_the_comune_is_asked_when_missing_then_services(
    person: Person, fake_catalog: FakeCatalog
) -> None:
    await person.says("ciao")
    await person.says("ho ricevuto lo sfratto")
    assert person.custom("question") == {"type": "question", "slot": "comune"}
    assert texts.ASK_COMUNE_SELF in person.text
    await person.says("Collegno")
    assert person.types == ["services"]
    assert fake_catalog.queries[-1].comune_istat == "001090"
    assert fake_catalog.queries[-1].needs == ("casa",)


async def test_at_most_two_questions_then_go_on_with_what_is_known(
    person: Person, fake_catalog: FakeCatalog
) -> None:
    await person.says("ciao")
    await person.says("cerco una badante")  # anziani: comune and "for whom" both missing
    assert person.custom("question")["slot"] == "comune"
    await person.says("Torino")
    assert person.custom("question")["slot"] == "destinatario"
    await person.taps(texts.BTN_DEST_OTHER)
    # The Turin neighbourhood would be a third question: not asked, services instead.
    assert person.types == ["services"]
    q = fake_catalog.queries[-1]
    assert q.comune_istat == "001272" and q.quartiere is None
    st = await person.state()
    assert st.for_whom == "other" and len(st.asked) == 2


async def test_turin_neighbourhood_is_asked_for_when_there_is_room(
    person: Person, fake_catalog: FakeCatalog
) -> None:
    await person.says("ciao")
    await person.says("cerco casa")
    await person.taps(texts.BTN_TORINO)
    assert person.custom("question")["slot"] == "quartiere"
    await person.says("barriera di milano")
    assert person.types == ["services"]
    assert fake_catalog.queries[-1].quartiere == "Barriera di Milano"
    assert "Barriera di Milano" in person.last[0].text


async def test_comune_from_free_text_without_any_nlu_entity(
    sqlite_dialogue: DialogueEngine, fake_nlu: FakeNLU, fake_catalog: FakeCatalog
) -> None:
    fake_nlu.places = False
    p = Person(sqlite_dialogue)
    await p.says("cerco casa, vivo a Settimo Torinese")
    assert "question" not in p.types
    assert fake_catalog.queries[-1].comune_istat == "001265"


async def test_cap_and_turin_neighbourhood_in_a_sentence(person: Person, fake_catalog: FakeCatalog) -> None:
    await person.says("cerco casa in zona san salvario")
    q = fake_catalog.queries[-1]
    assert (q.comune_istat, q.quartiere) == ("001272", "San Salvario")
    other = Person(person.engine, "p2")
    await other.says("cerco lavoro, cap 10093")
    assert fake_catalog.queries[-1].comune_istat == "001090"


async def test_everyday_words_are_not_mistaken_for_places(person: Person) -> None:
    # "Grosso" and "Piscina" are comuni of the Città metropolitana; here they are just words (the fake
    # NLU, like Rasa's lookup table, tags "grosso" as a comune all the same).
    await person.says("cerco casa, ho un problema grosso, abito vicino alla piscina")
    assert person.custom("question")["slot"] == "comune"
    assert (await person.state()).comune_istat is None
    await person.says("a Piscina")  # as the answer to the question it is the comune
    assert (await person.state()).comune_name == "Piscina"
    other = Person(person.engine, "p2")
    await other.says("cerco casa, abito a Grosso")  # after a preposition of place it counts
    assert (await other.state()).comune_name == "Grosso"


async def test_an_unknown_comune_is_asked_once_more_then_the_bot_goes_on(
    person: Person, fake_catalog: FakeCatalog
) -> None:
    await person.says("ciao")
    await person.says("cerco casa")
    await person.says("Milano")
    assert texts.COMUNE_NOT_FOUND in person.text
    await person.says("Milano")
    assert person.types == ["services"]
    assert fake_catalog.queries[-1].comune_istat is None


async def test_skipping_the_place_question(person: Person, fake_catalog: FakeCatalog) -> None:
    await person.says("ciao")
    await person.says("cerco casa")
    await person.taps(texts.BTN_SKIP_PLACE)
    assert person.types == ["services"]
    assert (await person.state()).place_declined
    await person.says("cerco lavoro")  # no more place questions once declined
    assert "question" not in person.types


async def test_a_place_alone_updates_the_suggestions(person: Person, fake_catalog: FakeCatalog) -> None:
    await person.says("cerco casa a Torino")
    await person.taps(texts.BTN_DONT_KNOW)
    first = [s["id"] for s in person.custom("services")["services"]]
    assert "casa-1" not in first  # the Collegno desk is not for Turin
    await person.says("abito a Collegno")
    assert person.custom("services")["services"][0]["id"] == "casa-1"


# --- suggestions ---------------------------------------------------------------------------------


async def test_cards_carry_name_organisation_who_how_phones_and_hours(person: Person) -> None:
    await person.says("cerco lavoro a Rivoli")
    msg = next(m for m in person.last if m.custom and m.custom["type"] == "services")
    for line in (
        "Centro per l'impiego",
        "Consorzio di prova",
        "Per chi:",
        "Come fare:",
        "Telefono: 011 4013111",
    ):
        assert line in msg.text
    assert "Orari: lunedì 9:00-12:00" in msg.text
    assert texts.CARD_TO_VERIFY in msg.text  # the second card's data are to be checked
    assert msg.custom is not None
    card = msg.custom["services"][0]
    assert card["phones"][0] == {"number": "011 4013111", "tel": "tel:+390114013111", "description": ""}
    assert [b.title for b in msg.buttons] == [
        texts.BTN_MORE_SERVICES,
        texts.BTN_SOMETHING_ELSE,
        texts.BTN_PERSON,
    ]


async def test_more_services_pages_then_offers_a_person(person: Person, fake_catalog: FakeCatalog) -> None:
    await person.says("cerco casa a Torino")
    await person.taps(texts.BTN_DONT_KNOW)
    await person.taps(texts.BTN_MORE_SERVICES)
    # Turin has 3 generic housing services in the fake: no second page.
    assert texts.no_more_services(["casa"]) in person.text
    assert person.custom("handoff_offer")["reason"] == "insoddisfatto"


async def test_more_services_shows_the_next_page(person: Person, fake_catalog: FakeCatalog) -> None:
    await person.says("cerco casa a Collegno")
    await person.taps(texts.BTN_MORE_SERVICES)
    services = person.custom("services")
    assert [s["id"] for s in services["services"]] == ["casa-4"]
    assert services["offset"] == 3
    assert fake_catalog.queries[-1].offset == 3
    assert person.last[0].text.startswith("Ecco altri servizi")


async def test_something_else_then_a_second_need_offers_a_person_with_high_priority(person: Person) -> None:
    await person.says("cerco casa a Collegno")
    await person.taps(texts.BTN_SOMETHING_ELSE)
    assert person.custom("question")["slot"] == "bisogno"
    assert "/bisogno lavoro" in person.payloads and "/bisogno emergenza" not in person.payloads
    await person.taps("Lavoro")
    assert person.types == ["services", "handoff_offer"]
    offer = person.custom("handoff_offer")
    assert offer == {"type": "handoff_offer", "reason": "complesso", "needs": ["casa", "lavoro"]}
    await person.taps(texts.BTN_HANDOFF_YES)
    (h,) = await handoffs(person.engine)
    assert (h.priority, h.reason, h.status) == ("high", "complesso", "waiting")
    # Offered once: a third need does not nag again.
    await person.says("non riesco a pagare le bollette")
    assert "handoff_offer" not in person.types


async def test_multi_intent_message_gets_services_for_both_and_the_offer(person: Person) -> None:
    await person.says("ho perso il lavoro e non pago l'affitto, sono a Collegno")
    services = person.custom("services")
    assert services["needs"] == ["casa", "lavoro"]
    assert person.custom("handoff_offer")["reason"] == "complesso"


async def test_no_service_in_the_area_offers_a_person(
    sqlite_dialogue: DialogueEngine, fake_catalog: FakeCatalog
) -> None:
    fake_catalog.cards = tuple(c for c in fake_catalog.cards if "cibo" not in c.needs)
    p = Person(sqlite_dialogue)
    await p.says("non ho da mangiare, sono a Ivrea")
    assert "non ho trovato servizi" in p.text
    assert p.custom("handoff_offer")["reason"] == "nessun_servizio"


async def test_catalogue_down_is_said_simply_and_a_person_offered(
    sqlite_dialogue: DialogueEngine, fake_catalog: FakeCatalog
) -> None:
    fake_catalog.down = True
    p = Person(sqlite_dialogue)
    await p.says("cerco casa a Collegno")
    assert texts.CATALOG_DOWN in p.text
    assert p.custom("handoff_offer")["reason"] == "nessun_servizio"


async def test_saying_the_suggestions_do_not_help_offers_a_person(person: Person) -> None:
    await person.says("cerco casa a Collegno")
    await person.says("questi servizi non mi servono a niente")
    assert person.custom("handoff_offer")["reason"] == "insoddisfatto"


# --- handoff -------------------------------------------------------------------------------------


async def test_handoff_with_consent_enters_the_queue_with_summary_and_suggestions(person: Person) -> None:
    published: list[tuple[str, dict[str, Any]]] = []
    broker = person.engine.broker
    original = broker.publish

    async def spy(topic: str, event: dict[str, Any]) -> None:
        published.append((topic, event))
        await original(topic, event)

    broker.publish = spy  # type: ignore[method-assign]
    await person.says("cerco casa a Collegno")
    await person.taps(texts.BTN_PERSON)
    offer = person.custom("handoff_offer")
    assert offer["reason"] == "richiesta"
    assert "leggerà questa conversazione" in person.text  # consent: the person is told
    assert await handoffs(person.engine) == []  # nothing before the yes
    await person.taps(texts.BTN_HANDOFF_YES)
    info = person.custom("handoff")
    (h,) = await handoffs(person.engine)
    assert info == {
        "type": "handoff",
        "handoff_id": h.id,
        "status": "waiting",
        "priority": "normal",
        "reason": "richiesta",
        "queue_position": 1,
    }
    assert "Non c'è nessuno prima di te" in person.text
    assert h.needs == ["casa"] and h.comune_istat == "001090" and h.comune_name == "Collegno"
    assert [s["id"] for s in h.suggested_services] == ["casa-1", "casa-2", "casa-3"]
    assert "Bisogni: casa" in h.summary and "Collegno" in h.summary and "Sportello casa Collegno" in h.summary
    assert h.consent_text_version == PRIVACY_VERSION and not h.on_behalf
    conv = await person.conversation()
    assert conv.consent_version == PRIVACY_VERSION and conv.consent_at is not None
    assert ("queue", {"type": "handoff_created", "handoff_id": h.id}) in published
    # A second request while waiting: told the place in the queue, no second case.
    await person.says("voglio parlare con un operatore")
    assert "Sei già in coda" in person.text
    assert len(await handoffs(person.engine)) == 1


async def test_queue_position_counts_the_people_ahead(sqlite_dialogue: DialogueEngine) -> None:
    for i in range(3):
        p = Person(sqlite_dialogue, f"q{i}")
        await p.says("voglio un operatore")
        await p.says("sì")
    assert p.custom("handoff")["queue_position"] == 3
    assert "Prima di te ci sono 2 persone" in p.text


async def test_declining_the_offer_creates_nothing(person: Person) -> None:
    await person.says("voglio un operatore")
    await person.says("no")
    assert texts.HANDOFF_DECLINED in person.text
    assert await handoffs(person.engine) == []


async def test_two_messages_not_understood_in_a_row_offer_a_person(person: Person) -> None:
    await person.says("ciao")
    await person.says("blablabla qwerty")
    assert texts.NOT_UNDERSTOOD in person.text
    assert "/bisogno casa" in person.payloads
    await person.says("zzzz xxxx")
    assert person.custom("handoff_offer")["reason"] == "non_compreso"
    await person.taps(texts.BTN_HANDOFF_YES)
    (h,) = await handoffs(person.engine)
    assert h.reason == "non_compreso"


async def test_an_understood_message_resets_the_count(person: Person) -> None:
    await person.says("ciao")
    await person.says("blablabla")
    await person.says("cerco casa")
    await person.says("qwerty")  # the answer to the comune question, not understood: asked again
    await person.says("asdfgh")
    assert "handoff_offer" not in person.types


# --- emergency -----------------------------------------------------------------------------------


@pytest.mark.parametrize("message", ["è un'emergenza!", "mio marito mi picchia", "voglio farla finita"])
async def test_emergency_numbers_come_first_then_an_urgent_offer(person: Person, message: str) -> None:
    await person.says(message)
    first = person.last[0]
    assert first.custom is not None and first.custom["type"] == "emergency"
    phones = [c["phone"] for c in first.custom["contacts"]]
    assert phones[:3] == ["112", "1522", "114"] and len(phones) == 4
    assert all(c["tel"].startswith("tel:") for c in first.custom["contacts"])
    assert "112" in first.text and "1522" in first.text and "114" in first.text
    assert "?" not in first.text  # no question before the numbers
    assert person.types[-1] == "handoff_offer"
    assert person.custom("handoff_offer")["reason"] == "emergenza"
    await person.taps(texts.BTN_EMERGENCY_YES)
    (h,) = await handoffs(person.engine)
    assert (h.priority, h.reason) == ("urgent", "emergenza")
    assert person.custom("handoff")["priority"] == "urgent"


async def test_declining_the_emergency_offer_repeats_112(person: Person) -> None:
    await person.says("mi picchia")
    await person.says("no")
    assert "112" in person.text
    assert await handoffs(person.engine) == []


async def test_declining_the_emergency_offer_goes_on_with_the_rest_of_the_request(person: Person) -> None:
    """The net may fire on a message mostly about a home: "no, no person" must not lose the home."""
    await person.says("mio marito mi picchia, cerco casa a Collegno")
    assert person.types[0] == "emergency" and person.types[-1] == "handoff_offer"
    await person.says("no")
    assert person.last[0].text == texts.HANDOFF_DECLINED_EMERGENCY_GO_ON
    assert "casa" in person.custom("services")["needs"]
    assert await handoffs(person.engine) == []


async def test_emergency_while_waiting_upgrades_the_case_to_urgent(person: Person) -> None:
    await person.says("voglio un operatore")
    await person.says("sì")
    await person.says("adesso mi minaccia, ho paura")
    assert person.types == ["emergency", "handoff"]
    (h,) = await handoffs(person.engine)
    assert h.priority == "urgent"


# --- degraded mode -------------------------------------------------------------------------------


async def test_rasa_down_offers_needs_as_buttons_and_nothing_is_lost(
    sqlite_dialogue: DialogueEngine, fake_nlu: FakeNLU, fake_catalog: FakeCatalog
) -> None:
    p = Person(sqlite_dialogue)
    await p.says("ciao")
    fake_nlu.down = True
    await p.says("ho bisogno di un aiuto per l'affitto a Collegno")
    assert texts.DEGRADED in p.text
    assert "/bisogno casa" in p.payloads and "/persona" in p.payloads
    async with sqlite_dialogue.sessionmaker() as s:
        stored = await s.scalar(
            select(Message.text).where(Message.direction == "in").order_by(Message.id.desc())
        )
    assert stored == "ho bisogno di un aiuto per l'affitto a Collegno"
    await p.taps("Casa")
    assert p.types == ["services"]
    q = fake_catalog.queries[-1]
    assert q.comune_istat == "001090"  # the place came from the text, without Rasa
    assert "affitto" in q.text  # and the words are not lost for the ranking
    fake_nlu.down = False
    await p.says("cerco lavoro")
    assert p.custom("services")["needs"] == ["lavoro"]


async def test_emergency_is_recognised_even_when_rasa_is_down(
    sqlite_dialogue: DialogueEngine, fake_nlu: FakeNLU
) -> None:
    fake_nlu.down = True
    p = Person(sqlite_dialogue)
    await p.says("aiuto mi vuole uccidere")
    assert p.types[0] == "emergency"


async def test_place_answer_works_without_rasa(sqlite_dialogue: DialogueEngine, fake_nlu: FakeNLU) -> None:
    p = Person(sqlite_dialogue)
    await p.says("cerco casa")
    fake_nlu.down = True
    await p.says("Collegno")
    assert p.types == ["services"]


# --- on behalf of someone else -------------------------------------------------------------------


async def test_helping_another_person_speaks_of_her_and_records_it_in_the_handoff(person: Person) -> None:
    await person.says("ciao")
    await person.taps(texts.BTN_FOR_OTHER)
    assert texts.ASK_NEED_OTHER in person.text
    await person.says("cerco casa")
    assert texts.ASK_COMUNE_OTHER in person.text
    await person.says("Grugliasco")
    assert person.last[0].text.startswith("Per la persona che aiuti")
    await person.taps(texts.BTN_PERSON)
    await person.taps(texts.BTN_HANDOFF_YES)
    (h,) = await handoffs(person.engine)
    assert h.on_behalf and h.comune_name == "Grugliasco"
    assert "per conto di un'altra persona" in h.summary


async def test_a_destinatario_in_free_text_is_recorded(person: Person) -> None:
    await person.says("scrivo per mia madre che cerca una badante, abita a Chieri")
    st = await person.state()
    assert st.for_whom == "other" and st.destinatario == "mia madre"
    assert "question" not in person.types  # comune known, for whom known
    await person.says("operatore")
    await person.says("sì")
    (h,) = await handoffs(person.engine)
    assert h.on_behalf_of == "mia madre" and h.comune_name == "Chieri"


# --- small talk and bad input --------------------------------------------------------------------


async def test_greeting_thanks_help_and_off_topic(person: Person) -> None:
    await person.says("ciao")
    await person.says("buongiorno")
    assert texts.GREETING in person.text
    await person.says("grazie")
    assert texts.THANKS in person.text
    await person.says("cosa sai fare?")
    assert texts.HELP in person.text and person.payloads == ["/per_me", "/per_altri", "/persona"]
    await person.says("chi vince il campionato di calcio?")
    assert texts.OFF_TOPIC in person.text


@pytest.mark.parametrize(
    "payload", ["/boh", "/bisogno astronave", "/comune 999999", "/handoff", "/dest forse", "/x" * 40]
)
async def test_stale_or_unknown_buttons_get_a_kind_answer(person: Person, payload: str) -> None:
    await person.says(payload)
    assert texts.STALE_BUTTON in person.text
    assert person.payloads == ["/per_me", "/per_altri", "/persona"]


async def test_stale_yes_to_an_old_offer_still_reaches_a_person(person: Person) -> None:
    await person.says("voglio un operatore")
    await person.says("cerco casa a Collegno")  # the offer is left behind
    assert (await person.state()).offer is None
    await person.says("/handoff si")  # the old button, tapped later
    (h,) = await handoffs(person.engine)
    assert h.reason == "richiesta"


async def test_the_transcript_shows_the_button_title_not_the_payload(person: Person) -> None:
    await person.says("/per_altri")
    (m,) = [m for m in await person.engine.history((await person.conversation()).id) if m.direction == "in"]
    assert m.text == texts.BTN_FOR_OTHER and m.kind == "button"


@pytest.mark.parametrize(
    ("message", "answer"),
    [
        ("   ", texts.EMPTY),
        ("", texts.EMPTY),
        ("casa " * 2000, texts.TOO_LONG),
        ("😢😢😢", texts.EMOJI_ONLY),
        ("?!?! ...", texts.EMOJI_ONLY),
        ("Hello, I need help with my house please", texts.FOREIGN),
        ("مرحبا أحتاج مساعدة", texts.FOREIGN),
        ("<script>alert('x')</script>", texts.NOT_UNDERSTOOD),
        ("\x00\x01\udc80\x7f", texts.EMPTY),
    ],
)
async def test_bad_inputs_get_kind_italian_answers(person: Person, message: str, answer: str) -> None:
    await person.says("ciao")
    await person.says(message)
    assert person.text.startswith(answer)
    assert "<script>" not in person.text  # nothing the person wrote is echoed back


async def test_long_texts_are_not_sent_to_rasa_and_odd_characters_are_cleaned(
    person: Person, fake_nlu: FakeNLU
) -> None:
    await person.says("casa " * 2000)
    assert fake_nlu.calls == 0
    await person.says("\x00ciao\udc80\x7f <b>casa</b>")
    conv = await person.conversation()
    stored = [m.text for m in await person.engine.history(conv.id) if m.direction == "in"]
    assert stored[-1] == "ciao <b>casa</b>"  # stored as written, minus what no database accepts


async def test_voice_photo_and_stickers(person: Person) -> None:
    await person.sends("voice")
    assert texts.NON_TEXT["voice"] in person.text
    assert person.custom("handoff_offer")["reason"] == "non_compreso"
    await person.sends("sticker")
    assert texts.NON_TEXT["sticker"] in person.text


async def test_shared_location_is_used_for_matching(person: Person, fake_catalog: FakeCatalog) -> None:
    await person.sends("location", latitude=45.07, longitude=7.68)
    assert texts.LOCATION_NOTED in person.text
    await person.says("cerco lavoro")
    assert "question" not in person.types
    q = fake_catalog.queries[-1]
    assert (q.latitude, q.longitude) == (45.07, 7.68)


# --- facilitators, after the handoff -------------------------------------------------------------


async def test_bot_is_silent_while_a_facilitator_holds_the_conversation(person: Person) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    broker = person.engine.broker
    original = broker.publish

    async def spy(topic: str, event: dict[str, Any]) -> None:
        events.append((topic, event))
        await original(topic, event)

    broker.publish = spy  # type: ignore[method-assign]
    await person.says("voglio un operatore")
    await person.says("sì")
    conv = await person.conversation()
    await person.engine.set_owner(conv.id, "facilitator")
    giulia = await person.engine.say(
        conv.id, Outbound("Ciao, sono Giulia"), author="facilitator", author_name="Giulia"
    )
    assert giulia.custom == {"type": "facilitator_message", "author": "Giulia"}
    events.clear()
    assert await person.says("grazie Giulia, cerco casa") == []
    last = (await person.engine.history(conv.id))[-1]
    assert last.direction == "in" and last.text == "grazie Giulia, cerco casa"
    assert [t for t, _ in events] == [f"conv:{conv.id}"]  # a citizen message is not "outbound"
    async with person.engine.sessionmaker() as s, s.begin():  # what the console does on close
        (await s.scalar(select(Handoff))).status = "closed"  # type: ignore[union-attr]
    await person.engine.after_handoff_closed(conv.id)
    last = (await person.engine.history(conv.id))[-1]
    assert last.text == texts.FEEDBACK_ASK and [b.payload for b in last.buttons] == ["/utile si", "/utile no"]
    assert ("outbound", events[-1][1]) in events
    person.last = [last]
    await person.taps(texts.BTN_USEFUL_NO)
    assert person.custom("handoff_offer")["reason"] == "insoddisfatto"
    assert (await person.state()).feedback == "no"


async def test_an_emergency_while_a_facilitator_holds_the_case_still_gets_the_numbers(
    person: Person, fake_nlu: FakeNLU
) -> None:
    await person.says("voglio un operatore")
    await person.says("sì")
    conv = await person.conversation()
    await person.engine.set_owner(conv.id, "facilitator")
    calls = fake_nlu.calls
    assert await person.says("va bene, aspetto") == []  # silent otherwise
    await person.says("è tornato, mi vuole ammazzare")
    assert person.types == ["emergency", "handoff"]
    assert person.custom("handoff")["priority"] == "urgent"
    (h,) = await handoffs(person.engine)
    assert h.priority == "urgent"
    assert fake_nlu.calls == calls  # Rasa is not asked while a person holds the conversation
    assert (await person.conversation()).owner == "facilitator"


async def test_feedback_yes(person: Person) -> None:
    await person.says("ciao")
    conv = await person.conversation()
    await person.engine.after_handoff_closed(conv.id)
    await person.says("sì")
    assert texts.FEEDBACK_YES in person.text


async def test_say_to_a_missing_conversation_raises(sqlite_dialogue: DialogueEngine) -> None:
    from bot.engine import ConversationGone

    with pytest.raises(ConversationGone):
        await sqlite_dialogue.say(999, Outbound("x"))
    with pytest.raises(ValueError):
        await sqlite_dialogue.set_owner(1, "nobody")


# --- privacy -------------------------------------------------------------------------------------


async def test_deleting_a_conversation_erases_messages_and_anonymises_its_handoff(person: Person) -> None:
    await person.says("scrivo per mia madre, cerca una badante a Chieri")
    await person.says("operatore")
    await person.says("sì")
    conv = await person.conversation()
    assert await person.engine.delete_conversation(conv.id)
    assert await person.engine.conversation_for("web", "p1", create=False) is None
    async with person.engine.sessionmaker() as s:
        assert await s.scalar(select(func.count()).select_from(Message)) == 0
    (h,) = await handoffs(person.engine)
    assert h.anonymised and h.conversation_id is None and h.summary == "" and h.on_behalf_of is None
    assert h.status == "closed"
    assert not await person.engine.delete_conversation(conv.id)


async def test_delete_command_asks_for_confirmation(person: Person) -> None:
    await person.says("cerco casa a Collegno")
    await person.says("/cancella")
    assert person.custom("question")["slot"] == "cancella"
    await person.says("sì")  # a typed yes is not enough for something irreversible
    assert texts.DELETE_PRESS_BUTTON in person.text
    await person.taps(texts.BTN_DELETE_YES)
    assert person.last[0].text == texts.DELETE_DONE and person.last[0].id == 0
    assert await person.engine.conversation_for("web", "p1", create=False) is None


async def test_message_text_is_never_logged(
    person: Person, caplog: pytest.LogCaptureFixture, fake_nlu: FakeNLU
) -> None:
    caplog.set_level(logging.DEBUG, logger="bussola")
    caplog.set_level(logging.INFO)
    secret = "Zanzibar-7781"
    await person.says(f"cerco casa a Collegno {secret}")
    await person.says("operatore")
    await person.says("sì")
    fake_nlu.down = True
    await person.says(f"ancora {secret}")
    assert caplog.records  # something was logged (degraded mode, handoff)
    assert all(secret not in r.getMessage() for r in caplog.records)


# --- persistence ---------------------------------------------------------------------------------


async def test_state_survives_a_restart(
    sqlite_dialogue: DialogueEngine, fake_nlu: FakeNLU, fake_catalog: FakeCatalog
) -> None:
    p = Person(sqlite_dialogue)
    await p.says("cerco casa")
    assert p.custom("question")["slot"] == "comune"
    reborn = DialogueEngine(
        sessionmaker=sqlite_dialogue.sessionmaker,
        nlu=fake_nlu,
        catalog=fake_catalog,
        broker=sqlite_dialogue.broker,
        settings=sqlite_dialogue.settings,
    )
    p2 = Person(reborn)
    await p2.says("Collegno")
    assert p2.types == ["services"]


async def test_every_message_in_and_out_is_in_one_log(person: Person) -> None:
    await person.says("ciao")
    await person.says("cerco casa a Collegno")
    conv = await person.conversation()
    log = await person.engine.history(conv.id)
    assert [m.direction for m in log] == ["in", "out", "out", "in", "out"]
    assert [m.id for m in log] == sorted(m.id for m in log)
    assert (await person.engine.history(conv.id, after_id=log[2].id)) == log[3:]
