"""A realistic demo directory: a company with departments, a management chain and some leavers."""

import random
import unicodedata
from datetime import date, timedelta

from django.utils import timezone

from bastion.people.bulk import insert_people
from bastion.people.models import Person, PersonStatus

DEPARTMENTS = [
    # name, share of staff, typical titles
    ("Engineering", 0.24, ["Software Engineer", "Senior Software Engineer", "Site Reliability Engineer", "QA Engineer"]),
    ("Sales", 0.16, ["Account Executive", "Sales Development Rep", "Solutions Consultant"]),
    ("Customer Support", 0.13, ["Support Specialist", "Support Engineer"]),
    ("Operations", 0.12, ["Operations Analyst", "Logistics Coordinator", "Warehouse Lead"]),
    ("Marketing", 0.08, ["Marketing Specialist", "Content Writer", "Designer"]),
    ("Finance", 0.08, ["Accountant", "Financial Analyst", "Payroll Specialist"]),
    ("IT", 0.07, ["Systems Administrator", "IT Support Technician", "Network Engineer"]),
    ("People", 0.05, ["HR Partner", "Recruiter", "People Operations Specialist"]),
    ("Legal", 0.04, ["Counsel", "Paralegal", "Compliance Analyst"]),
    ("Security", 0.03, ["Security Engineer", "Security Analyst"]),
]
VP_TITLES = {
    "Engineering": "VP Engineering", "Sales": "VP Sales", "Customer Support": "VP Customer Experience",
    "Operations": "COO", "Marketing": "CMO", "Finance": "CFO", "IT": "CIO", "People": "Chief People Officer",
    "Legal": "General Counsel", "Security": "CISO",
}
COUNTRIES = [("GB", "en", 0.35), ("US", "en", 0.3), ("DE", "de", 0.15), ("FR", "fr", 0.1), ("NL", "nl", 0.1)]
FIRST = ["Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Ava", "Elijah", "Sophia", "Lucas", "Mia", "Mateo",
         "Isla", "Leon", "Chloe", "Hugo", "Freya", "Arjun", "Priya", "Yusuf", "Aisha", "Kenji", "Mei", "Sven",
         "Ingrid", "Diego", "Lucia", "Tomás", "Zoë", "Jonas", "Léa", "Rafael", "Nadia", "Omar", "Hannah", "Finn",
         "Grace", "Ethan", "Sara", "Ibrahim", "Chen", "Anika", "Malik", "Elena", "Pieter", "Fatima", "Jack", "Ruby"]
LAST = ["Smith", "Jones", "Williams", "Brown", "Taylor", "Davies", "Müller", "Schmidt", "Martin", "Bernard",
        "de Vries", "Jansen", "Johnson", "Garcia", "Rodriguez", "Patel", "Khan", "Nguyen", "Kim", "Okafor",
        "Andersson", "Rossi", "Dubois", "Fischer", "Weber", "Clarke", "Walker", "Wright", "Hughes", "Edwards",
        "Moreau", "Bakker", "Visser", "Silva", "Costa", "Novak", "Kowalski", "O'Brien", "Murphy", "Lewis"]

DOMAIN = "northwind.example"
EPOCH = date(2015, 1, 1)


def _pick_country(rng: random.Random) -> tuple[str, str]:
    r, acc = rng.random(), 0.0
    for country, lang, share in COUNTRIES:
        acc += share
        if r <= acc:
            return country, lang
    return COUNTRIES[0][0], COUNTRIES[0][1]


def build_people(size: int, seed: int = 7, today: date | None = None) -> list[Person]:
    """Make (unsaved) people: a CEO, a head per department, managers of ~8 and their staff.

    Managers appear before their reports, so saving in order can set manager links.
    """
    rng = random.Random(seed)
    today = today or date.today()
    people: list[Person] = []
    used_emails: set[str] = set()

    def person(first: str, last: str, dept: str, title: str, manager: Person | None, hired: date) -> Person:
        n = len(people) + 1
        base = f"{first}.{last}".lower().replace(" ", "").replace("'", "")
        base = unicodedata.normalize("NFKD", base).encode("ascii", "ignore").decode() or f"person{n}"
        email = f"{base}@{DOMAIN}"
        if email in used_emails:
            email = f"{base}{n}@{DOMAIN}"
        used_emails.add(email)
        country, lang = _pick_country(rng)
        p = Person(
            employee_id=f"E{n:06d}", email=email, first_name=first, last_name=last, department=dept,
            title=title, manager=manager, country=country, language=lang, hire_date=hired,
        )
        people.append(p)
        return p

    def hire_date() -> date:
        return EPOCH + timedelta(days=rng.randrange((today - EPOCH).days))

    ceo = person("Margaret", "Okonkwo", "Executive", "Chief Executive Officer", None, date(2015, 3, 2))
    remaining = size - 1
    heads = {}
    for dept, _, _ in DEPARTMENTS:
        first = {"Security": "Alice", "Legal": "Gabriel", "Finance": "Farah", "IT": "Ivan"}.get(dept, rng.choice(FIRST))
        last = {"Security": "Laurent", "Legal": "Ruiz", "Finance": "Haddad", "IT": "Petrov"}.get(dept, rng.choice(LAST))
        heads[dept] = person(first, last, dept, VP_TITLES[dept], ceo, hire_date())
        remaining -= 1
    for dept, share, titles in DEPARTMENTS:
        count = max(2, round(remaining * share))
        team_size = 8
        managers = [
            person(rng.choice(FIRST), rng.choice(LAST), dept, f"{dept} Manager", heads[dept], hire_date())
            for _ in range(max(1, count // (team_size + 1)))
        ]
        for i in range(count - len(managers)):
            person(rng.choice(FIRST), rng.choice(LAST), dept, rng.choice(titles), managers[i % len(managers)], hire_date())
    people = people[:size]
    # About 3% have left; a few joined in the last month.
    for p in rng.sample(people[12:], k=max(1, len(people) * 3 // 100)):
        p.status = PersonStatus.LEAVER
        p.leave_date = today - timedelta(days=rng.randrange(1, 400))
        if p.hire_date and p.leave_date < p.hire_date:
            p.hire_date = p.leave_date - timedelta(days=200)
    for p in rng.sample(people[12:], k=max(1, len(people) // 60)):
        if p.status == PersonStatus.ACTIVE:
            p.hire_date = today - timedelta(days=rng.randrange(0, 30))
    return people


def save_people(people: list[Person]) -> None:
    """Insert in bulk, one management level at a time, so each manager has an id before
    their reports are written (managers come before their reports in `people`)."""
    names = ["employee_id", "email", "first_name", "last_name", "department", "title", "country",
             "language", "hire_date", "leave_date", "status", "manager", "created_at", "updated_at"]
    depth: dict[str, int] = {}
    for p in people:
        depth[p.employee_id] = depth[p.manager.employee_id] + 1 if p.manager is not None else 0
    now = timezone.now()
    pks: dict[str, int] = {}
    for level in sorted(set(depth.values())):
        rows = [
            [p.employee_id, p.email, p.first_name, p.last_name, p.department, p.title, p.country,
             p.language, p.hire_date, p.leave_date, p.status,
             pks[p.manager.employee_id] if p.manager is not None else None, now, now]
            for p in people if depth[p.employee_id] == level
        ]
        pks.update(insert_people(names, rows))
