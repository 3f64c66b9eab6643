"""Load deterministic demo data; safe to run again (nothing is duplicated).

manage.py seed_demo                 # demo users, workshops, ~24 mechanics, hours
manage.py seed_demo --mechanics 5000  # plus 5,000 generated mechanics for benchmarks
manage.py seed_demo --history 365   # plus a year of past sessions for every mechanic (_history.py)
"""

import random
import time

from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from autodoctor.accounts.models import (
    AccountType,
    ApprovalStatus,
    CustomerProfile,
    MechanicProfile,
    PartnershipType,
    Role,
    User,
    Vehicle,
    Workshop,
)
from autodoctor.accounts.search_terms import mechanic_search_terms_sync
from autodoctor.availability.models import MechanicSettings, WeeklyBlock, WorkshopHours

DEMO_PASSWORD = "autodoctor-demo"
DOMAIN = "demo.autodoctor.test"
BENCH_PREFIX = "bench-mechanic-"

WORKSHOPS = [
    # name, city, postal code, zone, owner email local part
    ("Queen Street Auto", "Toronto", "M5V 2T6", "America/Toronto", "workshop"),
    ("Kitsilano Motors", "Vancouver", "V6K 1P3", "America/Vancouver", "workshop.vancouver"),
    ("Harbour Garage", "Halifax", "B3H 1Y6", "America/Halifax", "workshop.halifax"),
    ("Signal Hill Service", "St. John's", "A1C 5M2", "America/St_Johns", "workshop.stjohns"),
]
CITIES = [
    ("Toronto", "M4C 1B5", "America/Toronto"),
    ("Ottawa", "K1P 5J2", "America/Toronto"),
    ("Vancouver", "V5K 0A1", "America/Vancouver"),
    ("Calgary", "T2P 1J9", "America/Edmonton"),
    ("Winnipeg", "R3C 4T3", "America/Winnipeg"),
    ("Halifax", "B3J 3K5", "America/Halifax"),
    ("St. John's", "A1B 3X5", "America/St_Johns"),
    ("Montreal", "H2X 1Y4", "America/Toronto"),
]
FIRST = [
    "Alex",
    "Sam",
    "Jordan",
    "Priya",
    "Wei",
    "Omar",
    "Chloé",
    "Mateo",
    "Aisha",
    "Liam",
    "Noah",
    "Emma",
    "Raj",
    "Sofia",
    "Ethan",
    "Mei",
    "Lucas",
    "Fatima",
    "Owen",
    "Hannah",
    "Diego",
    "Yuki",
]
LAST = [
    "Tremblay",
    "Nguyen",
    "Singh",
    "MacDonald",
    "Chen",
    "Roy",
    "Patel",
    "Campbell",
    "Martin",
    "Kowalski",
    "Gagnon",
    "Wilson",
    "Ahmed",
    "Leblanc",
    "Murphy",
    "Kim",
    "Fraser",
    "Haddad",
]
BRANDS = [
    "Honda",
    "Toyota",
    "Ford",
    "Chevrolet",
    "Hyundai",
    "Kia",
    "Subaru",
    "Volkswagen",
    "BMW",
    "Mazda",
    "Nissan",
    "Tesla",
]
# Everyone speaks English; some also speak one of these (the search's language filter).
LANGUAGES = ["French", "Punjabi", "Mandarin", "Spanish", "Tagalog", "Arabic"]


def demo_languages(rng: random.Random) -> list[str]:
    return ["English"] + ([rng.choice(LANGUAGES)] if rng.random() < 0.4 else [])


KEYWORDS = [
    "brakes",
    "engine",
    "transmission",
    "electrical",
    "battery",
    "check engine light",
    "noise",
    "suspension",
    "ac",
    "hybrid",
    "diagnostics",
    "oil leak",
    "starter",
    "alternator",
    "tires",
]


def demo_email(local: str) -> str:
    return f"{local}@{DOMAIN}"


class Command(BaseCommand):
    help = "Load deterministic demo data (idempotent). --mechanics N adds N generated mechanics."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument(
            "--mechanics", type=int, default=0, help="generated mechanics for benchmarks"
        )
        parser.add_argument(
            "--history", type=int, default=0, help="days of past sessions (analytics demo)"
        )
        parser.add_argument("--quiet", action="store_true")

    def handle(
        self,
        *args: object,
        mechanics: int = 0,
        history: int = 0,
        quiet: bool = False,
        **options: object,
    ) -> None:
        self.password_hash = make_password(DEMO_PASSWORD)
        self.now = timezone.now()
        self.rng = random.Random(20261125)
        with transaction.atomic():
            logins = self.seed_core()
        self.seed_credits()
        self.seed_visits()
        if mechanics:
            started = time.perf_counter()
            created = self.seed_bench_mechanics(mechanics)
            self.stdout.write(
                f"generated mechanics: {created} new, {mechanics} requested "
                f"({time.perf_counter() - started:.1f} s)"
            )
        if history:
            from ._history import History

            started = time.perf_counter()
            given, sessions = History(
                days=history, now=self.now, rng=self.rng, password_hash=self.password_hash
            ).run()
            self.stdout.write(
                f"history: {sessions} sessions over {history} days for {given} mechanics "
                f"({time.perf_counter() - started:.1f} s)"
            )
            from autodoctor.analytics.facts import facts_refresh

            # The COPY's triggers marked every generated session dirty; one set-based
            # build of their facts (a full build above facts.FULL_BUILD_ABOVE).
            started = time.perf_counter()
            built = facts_refresh()
            self.stdout.write(
                f"session facts: {built} rows ({time.perf_counter() - started:.1f} s)"
            )
        if not quiet:
            self.stdout.write(f"\nDemo logins (password for all: {DEMO_PASSWORD})")
            for role, email in logins:
                self.stdout.write(f"  {role:<28} {email}")

    # ---- helpers -----------------------------------------------------------
    def user(self, local: str, name: str, role: str, zone: str, **extra: object) -> User:
        user, _ = User.objects.get_or_create(
            email=demo_email(local),
            defaults={
                "full_name": name,
                "role": role,
                "time_zone": zone,
                "password": self.password_hash,
                **extra,
            },
        )
        if user.email_verified_at is None:  # demo accounts are pre-verified
            User.objects.filter(pk=user.pk).update(email_verified_at=user.date_joined)
        return user

    def workshop_hours(self, workshop: Workshop) -> None:
        if workshop.hours.exists():
            return
        rows = []
        for day in range(7):
            if day == 0:
                rows.append(WorkshopHours(workshop=workshop, day_of_week=day, is_open=False))
            elif day == 6:
                rows.append(
                    WorkshopHours(
                        workshop=workshop, day_of_week=day, open_minute=9 * 60, close_minute=13 * 60
                    )
                )
            else:
                rows.append(
                    WorkshopHours(
                        workshop=workshop,
                        day_of_week=day,
                        open_minute=8 * 60,
                        close_minute=17 * 60,
                        break_start_minute=12 * 60,
                        break_end_minute=13 * 60,
                    )
                )
        WorkshopHours.objects.bulk_create(rows)

    def weekly_hours(self, mechanic: MechanicProfile, pattern: int) -> None:
        if mechanic.weekly_blocks.exists():
            return
        patterns = [
            [(d, 9 * 60, 17 * 60) for d in range(1, 6)],  # office hours
            [(d, 7 * 60, 11 * 60) for d in range(1, 6)]
            + [(d, 18 * 60, 22 * 60) for d in range(1, 6)],  # split
            [(d, 12 * 60, 20 * 60) for d in (2, 3, 4, 5, 6)],  # afternoons + Sat
            [(d, 8 * 60, 24 * 60) for d in (0, 6)]
            + [(3, 17 * 60, 21 * 60)],  # weekends to midnight
        ]
        WeeklyBlock.objects.bulk_create(
            WeeklyBlock(mechanic=mechanic, day_of_week=d, start_minute=s, end_minute=e)
            for d, s, e in patterns[pattern % len(patterns)]
        )

    def mechanic(
        self,
        local: str,
        name: str,
        city: tuple[str, str, str],
        *,
        workshop: Workshop | None,
        account_type: str = "",
        partnership: str = "",
        i: int = 0,
    ) -> MechanicProfile:
        user = self.user(local, name, Role.MECHANIC, city[2])
        rng = random.Random(local)
        profile, _ = MechanicProfile.objects.get_or_create(
            user=user,
            defaults={
                "city": city[0],
                "postal_code": city[1],
                "workshop": workshop,
                "account_type": account_type,
                "partnership_type": partnership,
                "brands": rng.sample(BRANDS, 2),
                "specialty_keywords": rng.sample(KEYWORDS, 4),
                "languages": demo_languages(rng),
                "years_experience": rng.randint(2, 25),
                "rating": round(rng.uniform(3.6, 5.0), 1),
                "payout_account_id": f"acct_demo_{local.replace('.', '_')}",
                "bio": "Red Seal certified technician.",
                "approval_status": ApprovalStatus.APPROVED,  # demo mechanics are approved
            },
        )
        MechanicSettings.objects.get_or_create(mechanic=profile)
        mechanic_search_terms_sync(profiles=[profile])
        self.weekly_hours(profile, i)
        return profile

    # ---- core demo graph ------------------------------------------------------
    def seed_core(self) -> list[tuple[str, str]]:
        admin = self.user(
            "admin",
            "Platform Admin",
            Role.ADMIN,
            "America/Toronto",
            is_staff=True,
            is_superuser=True,
        )
        workshops = []
        for name, city, postal, zone, owner_local in WORKSHOPS:
            owner = self.user(owner_local, f"{name} Manager", Role.WORKSHOP_STAFF, zone)
            workshop, _ = Workshop.objects.get_or_create(
                name=name,
                defaults={
                    "city": city,
                    "postal_code": postal,
                    "time_zone": zone,
                    "owner": owner,
                    "address": f"100 Main St, {city}",
                    "payout_account_id": f"acct_demo_ws_{len(workshops)}",
                    "max_concurrent_appointments": 3,
                },
            )
            self.workshop_hours(workshop)
            workshops.append(workshop)

        # The three demo mechanics named in the README, one per type (plan §2.1).
        self.mechanic("mechanic.virtual", "Vera Virtual", CITIES[0], workshop=None, i=0)
        own_user = self.user(
            "mechanic.independent", "Ivan Independent", Role.MECHANIC, "America/Toronto"
        )
        own_shop, _ = Workshop.objects.get_or_create(
            name="Ivan's Garage",
            defaults={
                "city": "Toronto",
                "postal_code": "M6H 2L9",
                "time_zone": "America/Toronto",
                "owner": own_user,
                "address": "42 Dundas St W, Toronto",
                "max_concurrent_appointments": 2,
            },
        )
        self.workshop_hours(own_shop)
        self.mechanic(
            "mechanic.independent",
            "Ivan Independent",
            CITIES[0],
            workshop=own_shop,
            account_type=AccountType.INDIVIDUAL_MECHANIC,
            partnership=PartnershipType.OWNER,
            i=0,
        )
        self.mechanic(
            "mechanic.affiliated",
            "Ana Affiliated",
            CITIES[0],
            workshop=workshops[0],
            account_type=AccountType.WORKSHOP_MECHANIC,
            partnership=PartnershipType.EMPLOYEE,
            i=0,
        )

        # 21 more mechanics across the three types and several zones.
        for i in range(21):
            first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
            local = f"mechanic{i + 1:02d}"
            city = CITIES[i % len(CITIES)]
            kind = i % 3
            if kind == 0:
                self.mechanic(local, f"{first} {last}", city, workshop=None, i=i)
            elif kind == 1:
                ws = workshops[i % len(workshops)]
                self.mechanic(
                    local,
                    f"{first} {last}",
                    (ws.city, ws.postal_code, ws.time_zone),
                    workshop=ws,
                    account_type=AccountType.WORKSHOP_MECHANIC,
                    partnership=PartnershipType.CONTRACTOR,
                    i=i,
                )
            else:
                owner = self.user(local, f"{first} {last}", Role.MECHANIC, city[2])
                shop, _ = Workshop.objects.get_or_create(
                    name=f"{last} Auto Repair",
                    defaults={
                        "city": city[0],
                        "postal_code": city[1],
                        "time_zone": city[2],
                        "owner": owner,
                        "max_concurrent_appointments": 2,
                    },
                )
                self.workshop_hours(shop)
                self.mechanic(
                    local,
                    f"{first} {last}",
                    city,
                    workshop=shop,
                    account_type=AccountType.INDIVIDUAL_MECHANIC,
                    partnership=PartnershipType.OWNER,
                    i=i,
                )

        customer = self.user("customer", "Casey Customer", Role.CUSTOMER, "America/Toronto")
        customers = [customer] + [
            self.user(f"customer{n}", f"{FIRST[n + 3]} {LAST[n + 5]}", Role.CUSTOMER, CITIES[n][2])
            for n in range(1, 5)
        ]
        cars = [
            (2018, "Honda", "Civic", "2HGFC2F58JH512345"),
            (2020, "Toyota", "RAV4", ""),
            (2015, "Ford", "F-150", "1FTEW1EG7FFA12345"),
            (2022, "Hyundai", "Kona", ""),
            (2012, "Mazda", "3", ""),
        ]
        for n, cust in enumerate(customers):
            city = CITIES[n % len(CITIES)]
            profile, created = CustomerProfile.objects.get_or_create(
                user=cust,
                defaults={"city": city[0], "postal_code": city[1], "phone": f"+1416555{n:04d}"},
            )
            if created:
                year, make, model, vin = cars[n % len(cars)]
                Vehicle.objects.create(customer=profile, year=year, make=make, model=model, vin=vin)
        return [
            ("customer", customer.email),
            ("mechanic (virtual-only)", demo_email("mechanic.virtual")),
            ("mechanic (independent workshop)", demo_email("mechanic.independent")),
            ("mechanic (workshop-affiliated)", demo_email("mechanic.affiliated")),
            ("workshop owner", demo_email("workshop")),
            ("platform admin", admin.email),
        ]

    def seed_credits(self) -> None:
        """$50 of credits for the demo customer, once, so "pay with credits" can be tried."""
        from autodoctor.payments.models import CreditEntry
        from autodoctor.payments.services.credits import credits_grant

        customer = User.objects.get(email=demo_email("customer"))
        if not CreditEntry.objects.filter(account__customer=customer).exists():
            admin = User.objects.get(email=demo_email("admin"))
            credits_grant(
                customer=customer, amount_cents=5000, note="Demo credits", granted_by=admin
            )

    def seed_visits(self) -> None:
        """Workshop visits at Queen Street Auto so its Appointments page shows something
        on first start: a pending request, a confirmed visit with Ana Affiliated assigned,
        and a completed one, each following a completed remote session (with a
        diagnosis) of a demo customer. Once: skipped when the workshop has visits."""
        from datetime import timedelta

        from autodoctor.availability.service import visit_slots
        from autodoctor.booking.models import Diagnosis, Plan, Session, SessionStatus
        from autodoctor.workshops import services as visits
        from autodoctor.workshops.models import Visit, VisitStatus

        shop = Workshop.objects.filter(name=WORKSHOPS[0][0]).first()
        if shop is None or Visit.objects.filter(workshop=shop).exists():
            return
        virtual = MechanicProfile.objects.get(user__email=demo_email("mechanic.virtual"))
        affiliated = MechanicProfile.objects.get(user__email=demo_email("mechanic.affiliated"))
        plan = Plan.objects.get(code="advice")
        work = [
            ("customer", "brakes", 90, "soon", "Front pads at 2 mm; rotors scored."),
            ("customer1", "suspension", 60, "safe", "Worn sway-bar links: clunk over bumps."),
            ("customer2", "electrical", 120, "stop", "Alternator not charging (12.1 V running)."),
        ]
        sessions = []
        for n, (local, service_type, minutes, urgency, findings) in enumerate(work):
            customer = User.objects.get(email=demo_email(local))
            ended = self.now - timedelta(days=3 + n)
            session = Session.objects.create(
                customer=customer,
                mechanic=virtual,
                status=SessionStatus.COMPLETED,
                plan=plan,
                concern="Noise and a warning light since last week",
                vehicle_label="2018 Honda Civic",
                duration_minutes=30,
                scheduled_for=ended - timedelta(minutes=30),
                started_at=ended - timedelta(minutes=30),
                ended_at=ended,
            )
            Diagnosis.objects.create(
                session=session,
                findings=findings,
                service_type=service_type,
                estimated_labour_minutes=minutes,
                urgency=urgency,
                written_by=virtual,
            )
            sessions.append(session)

        def free_time(session: Session, index: int):
            minutes = timedelta(minutes=session.diagnosis.estimated_labour_minutes)
            window = (self.now + timedelta(days=1), self.now + timedelta(days=8))
            return visit_slots(shop, *window, minutes, now=self.now)[index].start

        visits.visit_request_from_session(  # waiting for the workshop's answer
            customer=sessions[1].customer,
            session_id=sessions[1].pk,
            request=visits.VisitRequest(workshop_id=shop.pk, starts_at=free_time(sessions[1], 0)),
            now=self.now,
        )
        confirmed = visits.visit_request_from_session(
            customer=sessions[0].customer,
            session_id=sessions[0].pk,
            request=visits.VisitRequest(
                workshop_id=shop.pk,
                starts_at=free_time(sessions[0], 4),
                mode="wait",
                notes="I'll wait in the lounge.",
            ),
            now=self.now,
        )
        visits.visit_confirm(
            user=shop.owner, visit_id=confirmed.pk, mechanic_id=affiliated.pk, now=self.now
        )
        done_at = self.now - timedelta(days=1)
        Visit.objects.create(
            workshop=shop,
            customer=sessions[2].customer,
            session=sessions[2],
            vehicle_label=sessions[2].vehicle_label,
            concern=sessions[2].concern,
            service_type="electrical",
            duration_minutes=120,
            starts_at=done_at - timedelta(hours=2),
            ends_at=done_at,
            bay=1,
            status=VisitStatus.COMPLETED,
            workshop_notes="Replaced the alternator and the serpentine belt.",
            confirmed_at=done_at - timedelta(days=1),
            completed_at=done_at,
        )

    # ---- benchmark population --------------------------------------------------
    def seed_bench_mechanics(self, count: int) -> int:
        existing = set(
            User.objects.filter(email__startswith=BENCH_PREFIX).values_list("email", flat=True)
        )
        wanted = [f"{BENCH_PREFIX}{n:05d}@{DOMAIN}" for n in range(count)]
        missing = [e for e in wanted if e not in existing]
        if not missing:
            return 0
        rng = self.rng
        workshops = list(Workshop.objects.filter(name__in=[w[0] for w in WORKSHOPS]))
        with transaction.atomic():
            users = User.objects.bulk_create(
                [
                    User(
                        email=email,
                        full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                        role=Role.MECHANIC,
                        time_zone=CITIES[n % len(CITIES)][2],
                        password=self.password_hash,
                        email_verified_at=self.now,
                    )
                    for n, email in enumerate(missing)
                ],
                batch_size=1000,
            )
            if users[0].pk is None:  # backends without RETURNING on bulk insert
                users = list(User.objects.filter(email__in=missing))
            profiles = []
            for n, user in enumerate(users):
                city = CITIES[n % len(CITIES)]
                kind = n % 3
                ws = workshops[n % len(workshops)] if kind == 1 and workshops else None
                profiles.append(
                    MechanicProfile(
                        user=user,
                        city=city[0],
                        postal_code=city[1],
                        workshop=ws,
                        account_type=AccountType.WORKSHOP_MECHANIC if ws else "",
                        brands=rng.sample(BRANDS, 2),
                        specialty_keywords=rng.sample(KEYWORDS, 3),
                        languages=demo_languages(rng),
                        years_experience=rng.randint(1, 30),
                        rating=round(rng.uniform(3.0, 5.0), 1),
                        is_online=rng.random() < 0.1,
                        approval_status=ApprovalStatus.APPROVED,
                    )
                )
            profiles = MechanicProfile.objects.bulk_create(profiles, batch_size=1000)
            if profiles[0].pk is None:
                profiles = list(MechanicProfile.objects.filter(user__in=users))
            MechanicSettings.objects.bulk_create(
                [MechanicSettings(mechanic=p) for p in profiles], batch_size=1000
            )
            mechanic_search_terms_sync(profiles=profiles)
            blocks = []
            for n, p in enumerate(profiles):
                start = 7 * 60 + (n % 6) * 60
                for day in range(1, 6):
                    blocks.append(
                        WeeklyBlock(
                            mechanic=p,
                            day_of_week=day,
                            start_minute=start,
                            end_minute=start + 8 * 60,
                        )
                    )
                if n % 4 == 0:
                    blocks.append(
                        WeeklyBlock(
                            mechanic=p, day_of_week=6, start_minute=10 * 60, end_minute=14 * 60
                        )
                    )
            WeeklyBlock.objects.bulk_create(blocks, batch_size=2000)
        return len(missing)
