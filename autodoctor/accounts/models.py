"""Who uses the system: users with one role, and the profiles each role needs.

Customer, mechanic and workshop (organization) fields follow plan §1.1 and §2.
"""

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower, Substr, Upper
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


def validate_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            _("Unknown time zone %(zone)s; use an IANA name like America/Toronto.")
            % {"zone": repr(value)}
        )


class Role(models.TextChoices):
    CUSTOMER = "customer", gettext_lazy("Customer")
    MECHANIC = "mechanic", gettext_lazy("Mechanic")
    WORKSHOP_STAFF = "workshop_staff", gettext_lazy("Workshop staff")
    ADMIN = "admin", gettext_lazy("Platform admin")


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: object) -> "User":
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: object) -> "User":
        extra.setdefault("role", Role.ADMIN)
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in with an email address. One role each."""

    email = models.EmailField(unique=True)
    full_name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CUSTOMER)
    # The zone this person lives in: times are shown to them in it, and for a
    # mechanic it is also the zone their weekly hours are written in.
    time_zone = models.CharField(
        max_length=64, default="America/Toronto", validators=[validate_zone]
    )
    # The language pages, emails, SMS and calendar files are in for this person.
    language = models.CharField(
        max_length=10, choices=settings.LANGUAGES, default=settings.LANGUAGE_CODE
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(
        default=False, help_text=gettext_lazy("Can log into the Django admin.")
    )
    date_joined = models.DateTimeField(default=timezone.now)
    # Set when the person opened the link we emailed (accounts/registration.py); customers
    # book only once it is set (registration.booking_refusal).
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Part of the session hash: changing it ends every signed-in session ("log out
    # everywhere") without touching the password.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)
    deleted_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=gettext_lazy("Set when the person deleted their account (anonymised)."),
    )

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        ordering = ["email"]
        # availability.service._zones_in_use walks the distinct zones through this index
        # (a few index probes instead of reading every user; issue 15).
        indexes = [models.Index(fields=["time_zone"], name="user_time_zone")]
        constraints = [
            # Emails are stored lower-case; this refuses "A@x" beside "a@x" whatever path
            # wrote them, and decides two sign-ups racing for one address.
            models.UniqueConstraint(Lower("email"), name="user_email_unique_any_case"),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's hash of the password field, plus the epoch: a password change or a
        # "log out everywhere" both end the other sessions.
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def is_customer(self) -> bool:
        return self.role == Role.CUSTOMER

    @property
    def is_mechanic(self) -> bool:
        return self.role == Role.MECHANIC

    @property
    def is_workshop_staff(self) -> bool:
        return self.role == Role.WORKSHOP_STAFF

    @property
    def is_platform_admin(self) -> bool:
        return self.role == Role.ADMIN or self.is_superuser


class Workshop(models.Model):
    """An organization with a physical shop (plan §1.1 organizations)."""

    name = models.CharField(max_length=200)
    address = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    fsa = models.GeneratedField(
        expression=Upper(Substr("postal_code", 1, 3)),
        output_field=models.CharField(max_length=3),
        db_persist=True,
    )
    time_zone = models.CharField(
        max_length=64, default="America/Toronto", validators=[validate_zone]
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_workshops"
    )
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="staff_workshops"
    )
    payout_account_id = models.CharField(max_length=100, blank=True)
    max_concurrent_appointments = models.PositiveSmallIntegerField(default=5)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_concurrent_appointments__gte=1),
                name="workshop_has_at_least_one_bay",
            )
        ]

    def __str__(self) -> str:
        return self.name


class AccountType(models.TextChoices):
    INDIVIDUAL_MECHANIC = (
        "individual_mechanic",
        gettext_lazy("Individual mechanic (owner/operator)"),
    )
    WORKSHOP_MECHANIC = "workshop_mechanic", gettext_lazy("Workshop mechanic")


class PartnershipType(models.TextChoices):
    EMPLOYEE = "employee", gettext_lazy("Employee of the workshop")
    CONTRACTOR = "contractor", gettext_lazy("Contractor of the workshop")
    OWNER = "owner", gettext_lazy("Owner")
    PARTNER = "partner", gettext_lazy("Partner")


class ApprovalStatus(models.TextChoices):
    PENDING = "pending", gettext_lazy("Waiting for review")
    APPROVED = "approved", gettext_lazy("Approved")
    REJECTED = "rejected", gettext_lazy("Not approved")


class MechanicProfileQuerySet(models.QuerySet["MechanicProfile"]):
    def approved(self) -> "MechanicProfileQuerySet":
        """The one rule for "may receive offers and be found": an admin approved the
        mechanic and the account is active. Matching, the availability candidate set,
        holds, the offers inbox and the public profile all filter through this."""
        return self.filter(approval_status=ApprovalStatus.APPROVED, user__is_active=True)


def mechanic_photo_path(instance: "MechanicProfile", filename: str) -> str:
    # A fresh random name per upload: an old URL never shows a new photo, and the
    # uploader's file name (which may carry personal data) is not kept.
    import secrets

    return f"mechanics/{instance.user_id}/{secrets.token_hex(8)}.jpg"


def match_terms(items: object, *, strip: bool) -> str | None:
    """A JSON list as start-now matching compares its items (``booking.matching``): each
    ``lower()``-ed, and ``strip()``-ped with ``strip``, between bars: ``|ac|check engine
    light|``. None for anything but a list of strings (matching then assumes any hit)."""
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        return None
    terms = [item.lower().strip() if strip else item.lower() for item in items]
    return "|" + "|".join(terms) + "|"


class MatchTermsField(models.TextField):
    """``match_terms`` of the model's list field ``source``, for matching's SQL
    pre-filter to test with plain ``LIKE`` instead of casting JSON to text and running
    case-insensitive patterns on every mechanic (most of the query's time at 5,000).

    Computed on every ``save()`` and ``bulk_create`` (``pre_save``), which also puts a
    copy of the list it was computed from in the model's ``<name>_of`` field (declare it
    right after this one). A row whose list was written some other way (a
    ``QuerySet.update``, say) no longer equals its copy; matching then treats it as "may
    hit", so a stale row can only cost speed, never a wrong ranking."""

    def __init__(self, *args, source: str, strip: bool, **kwargs):
        self.source, self.strip = source, strip
        kwargs.setdefault("null", True)
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        return name, path, args, {**kwargs, "source": self.source, "strip": self.strip}

    def pre_save(self, model_instance, add):
        items = getattr(model_instance, self.source)
        setattr(model_instance, f"{self.attname}_of", items)
        value = match_terms(items, strip=self.strip)
        setattr(model_instance, self.attname, value)
        return value


class MechanicProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mechanic_profile"
    )
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    fsa = models.GeneratedField(
        expression=Upper(Substr("postal_code", 1, 3)),
        output_field=models.CharField(max_length=3),
        db_persist=True,
    )
    brands = models.JSONField(
        default=list, blank=True, help_text=gettext_lazy("Brand specialties, e.g. Honda")
    )
    specialty_keywords = models.JSONField(default=list, blank=True)
    # Start-now matching's copies of the two lists above (MatchTermsField): each set on
    # every save from its list, with the list it was computed from beside it.
    keyword_terms = MatchTermsField(source="specialty_keywords", strip=True)
    keyword_terms_of = models.JSONField(null=True, editable=False)
    brand_terms = MatchTermsField(source="brands", strip=False)
    brand_terms_of = models.JSONField(null=True, editable=False)
    languages = models.JSONField(
        default=list,
        blank=True,
        help_text=gettext_lazy("Languages the mechanic speaks with customers"),
    )
    years_experience = models.PositiveSmallIntegerField(default=0)
    rating = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)
    is_online = models.BooleanField(default=False)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    account_type = models.CharField(max_length=30, choices=AccountType.choices, blank=True)
    partnership_type = models.CharField(max_length=20, choices=PartnershipType.choices, blank=True)
    workshop = models.ForeignKey(
        Workshop, null=True, blank=True, on_delete=models.SET_NULL, related_name="mechanics"
    )
    payout_account_id = models.CharField(max_length=100, blank=True)
    bio = models.TextField(blank=True, max_length=2000)
    photo = models.ImageField(upload_to=mechanic_photo_path, blank=True, max_length=200)
    # plan §5.3 stays intact: approval is a one-time check of who someone is, not a
    # control over their schedule. Unapproved mechanics get no offers and are not listed.
    approval_status = models.CharField(
        max_length=10, choices=ApprovalStatus.choices, default=ApprovalStatus.PENDING
    )
    applied_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    review_note = models.CharField(max_length=500, blank=True)

    objects = MechanicProfileQuerySet.as_manager()

    class Meta:
        ordering = ["user__full_name"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(rating__isnull=True) | models.Q(rating__gte=0, rating__lte=5),
                name="mechanic_rating_between_0_and_5",
            ),
            models.CheckConstraint(
                condition=models.Q(years_experience__lte=70),
                name="mechanic_years_experience_plausible",
            ),
        ]
        # The mechanic search's filters (autodoctor/directory/selectors.py); brands,
        # specialties and languages are searched through MechanicSearchTerm.
        indexes = [
            # Not led by approval_status: nearly everyone is approved, and without statistics
            # SQLite would scan that index instead of starting from a selective filter.
            models.Index(fields=["rating"], name="mechanic_rating"),
            models.Index(fields=["fsa"], name="mechanic_fsa"),
            models.Index(Lower("city"), name="mechanic_city_lower"),
        ]

    def __str__(self) -> str:
        return str(self.user)

    @property
    def is_approved(self) -> bool:
        return self.approval_status == ApprovalStatus.APPROVED

    @property
    def time_zone(self) -> str:
        return self.user.time_zone


class SearchTermKind(models.TextChoices):
    BRAND = "brand", gettext_lazy("Brand")
    SPECIALTY = "specialty", gettext_lazy("Specialty")
    LANGUAGE = "language", gettext_lazy("Language")


class MechanicSearchTerm(models.Model):
    """One searchable term of a mechanic's brands, specialties or languages, in its
    search form (``accounts.search_terms.search_term``). The JSON lists on the profile
    stay the record; ``mechanic_search_terms_sync`` rewrites these rows from them in the
    same transaction as every write of those lists.

    A table rather than an index inside the JSON: "who fixes Honda" is then one range
    scan of the unique index (kind, term, mechanic) on SQLite and PostgreSQL alike, with
    the same answers on both (SQLite cannot index the elements of a JSON array)."""

    mechanic = models.ForeignKey(
        MechanicProfile, on_delete=models.CASCADE, related_name="search_terms"
    )
    kind = models.CharField(max_length=10, choices=SearchTermKind.choices)
    term = models.CharField(max_length=50)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "term", "mechanic"], name="mechanic_search_term_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.term}"


class CustomerProfile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customer_profile"
    )
    phone = models.CharField(max_length=20, blank=True)
    city = models.CharField(max_length=100, blank=True)
    postal_code = models.CharField(max_length=10, blank=True)
    fsa = models.GeneratedField(
        expression=Upper(Substr("postal_code", 1, 3)),
        output_field=models.CharField(max_length=3),
        db_persist=True,
    )

    def __str__(self) -> str:
        return str(self.user)


class Vehicle(models.Model):
    customer = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="vehicles")
    year = models.PositiveSmallIntegerField()
    make = models.CharField(max_length=50)
    model = models.CharField(max_length=50)
    vin = models.CharField(max_length=17, blank=True)

    class Meta:
        ordering = ["-year", "make"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(year__gte=1900, year__lte=2100), name="vehicle_year_plausible"
            )
        ]

    def __str__(self) -> str:
        return f"{self.year} {self.make} {self.model}"


class ApiToken(models.Model):
    """A personal API token for integrators. Only a SHA-256 of the secret is stored."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12, db_index=True, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class EmailVerification(models.Model):
    """One emailed "confirm your address" link. Only a SHA-256 of the link's secret is
    stored (accounts/tokens.py); used once, then `used_at` is set; expires after
    EMAIL_VERIFICATION_HOURS."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_verifications"
    )
    email = models.EmailField(help_text=gettext_lazy("The address this link confirms"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"verification of {self.email}"


class InvitationKind(models.TextChoices):
    STAFF = "staff", gettext_lazy("Workshop staff")
    MECHANIC = "mechanic", gettext_lazy("Affiliated mechanic")


class InvitationStatus(models.TextChoices):
    PENDING = "pending", gettext_lazy("Waiting for an answer")
    ACCEPTED = "accepted", gettext_lazy("Accepted")
    DECLINED = "declined", gettext_lazy("Declined")
    REVOKED = "revoked", gettext_lazy("Withdrawn")


class Invitation(models.Model):
    """A workshop invites someone by email to join its staff or to work as its affiliated
    mechanic (plan §5.4). The link's secret is stored only as a SHA-256; an answered,
    withdrawn or expired invitation cannot be used again."""

    workshop = models.ForeignKey(Workshop, on_delete=models.CASCADE, related_name="invitations")
    kind = models.CharField(max_length=10, choices=InvitationKind.choices)
    email = models.EmailField()
    partnership_type = models.CharField(
        max_length=20,
        choices=PartnershipType.choices,
        blank=True,
        help_text=gettext_lazy("Mechanics only"),
    )
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    responded_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accepted_invitations",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                "workshop",
                "kind",
                Lower("email"),
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_address",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="mechanic")
                | models.Q(partnership_type__in=["employee", "contractor"]),
                name="invitation_mechanic_has_partnership",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} invitation to {self.email} ({self.workshop})"
