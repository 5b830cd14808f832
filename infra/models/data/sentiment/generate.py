"""Generate infra/models/data/sentiment/sentiment.jsonl (synthetic, written by the Sluice team).

Run: .venv/bin/python -m infra.models.data.sentiment.generate
Each template is one `group`; whole groups are held out (split=heldout) so the held-out slice measures
generalisation to unseen phrasings, not to unseen slot fillers.
"""
from __future__ import annotations

import random

from infra.models.data.textstyle import assign_splits, distinct_renderings, write_dataset

# (label, role, tag) -> templates. Tags name the behaviours the brief asks us to cover so they can be
# measured separately: polite_agent, angry_clean, sarcasm, thanks.
TEMPLATES: dict[tuple[str, str, str], list[str]] = {
    ("negative", "customer", "angry_clean"): [
        "I've been waiting {duration} and nobody has called me back, this is ridiculous.",
        "This is the {count} I've called about my {bill} and it's still wrong.",
        "I am really fed up, my {product} has not worked for {duration}.",
        "You charged me {amount} that I never agreed to and I want it back now.",
        "Honestly this is the worst service I have ever had from any company.",
        "I'm so frustrated, every time I call I get passed to someone else.",
        "Nobody told me about this fee, it's completely unacceptable.",
        "I was promised a callback {day} and it never happened, again.",
        "Why is it so hard to get a straight answer from you?",
        "I'm extremely unhappy with how my {product} issue has been handled.",
        "I've explained this {count} already and I'm sick of repeating myself.",
        "My {product} stopped working and I've lost a whole day of work because of it.",
        "I want to make a formal complaint, this has been a nightmare.",
        "This is a joke, I've been on hold for {duration}.",
        "The engineer never showed up and nobody even bothered to let me know.",
        "I'm disgusted that you took {amount} out of my account without asking.",
        "I'm really disappointed, I expected much better from {company}.",
        "This keeps happening and I'm losing my patience.",
        "Your website is broken and I can't do anything with {thing}.",
        "I am furious, the {product} arrived damaged and nobody cares.",
        "It's been {duration} and my refund still hasn't come through, this is terrible.",
        "I'm thinking of leaving because of how badly this has been handled.",
        "That's not good enough, I need this fixed not another apology.",
        "The refund you promised never arrived and I'm really annoyed.",
        "Your colleague was rude to me last time and it ruined my day.",
        "I'm stressed out, you cut off my {product} while I was away.",
        "Every month there's a new mistake on my {bill}, I'm tired of it.",
        "What a waste of time this call has been.",
        "I'm upset that nobody listened to me the first time.",
        "The last agent hung up on me and I'm really annoyed.",
    ],
    ("negative", "customer", "sarcasm"): [
        "Oh great, another {duration} on hold, just what I needed.",
        "Wonderful, so the {product} broke again, fantastic job.",
        "Brilliant, you charged me {count}, thanks a lot for that.",
        "Sure, because waiting {duration} for a reply is totally normal.",
        "Love how my {bill} goes up every month while the service gets worse.",
        "Amazing customer service, really, I've only been transferred five times.",
        "Yeah thanks for nothing, the {product} still doesn't work.",
        "Perfect, the {product} is lost and I'm supposed to be happy about it.",
        "Fantastic, another bill mistake, you really outdid yourselves.",
        "Oh lovely, the {product} stopped working the day after the repair, great work.",
        "Thanks so much for the {count} I've had to explain this, really helpful.",
        "Great job, you managed to lose my {product} twice.",
    ],
    ("negative", "customer", "plain"): [
        "My {product} isn't working and I'm not happy about it.",
        "Unfortunately the problem is still there, nothing has changed.",
        "I'm worried I'll be charged again next month.",
        "That's annoying, I really needed it {day}.",
        "It's really inconvenient that I have to call every time.",
        "I don't like that I have to pay {amount} for this.",
        "This is confusing and I feel like I'm being ripped off.",
        "I'm disappointed the {product} is so unreliable.",
        "Sadly the fix you suggested didn't help at all.",
        "I can't believe it's broken again.",
    ],
    ("negative", "agent", "plain"): [
        "Unfortunately I can't do anything about that charge, I'm sorry.",
        "I'm afraid the {product} issue can't be fixed before {day}.",
        "Sorry, the refund was declined and there's nothing more I can do.",
        "Unfortunately your claim has been rejected.",
    ],
    ("neutral", "customer", "plain"): [
        "I'm calling about my {bill} from last month.",
        "My account number is [ACCOUNT_NUMBER].",
        "The email on the account is [EMAIL].",
        "Can you tell me when my {product} will be renewed?",
        "I'd like to check the status of my {product}.",
        "I moved to [ADDRESS] so I need to update my details.",
        "It's [PERSON], the account holder.",
        "I want to know what my options are for the {product}.",
        "My date of birth is [DATE].",
        "Okay, and how long does that usually take?",
        "The card ending in [CARD].",
        "I have a question about the {product}.",
        "Yes, that's right.",
        "Let me just find the letter, one second.",
        "Can you read me the last payment on the account?",
        "I'm calling on behalf of my mother [PERSON].",
        "What's the difference between the two plans?",
        "I need a copy of my {bill}.",
        "You can reach me on [PHONE].",
        "I think it was {day}.",
        "Is there a fee to change the {product}?",
        "I'll check with my partner and call back.",
        "No, nothing else for now.",
        "The reference number is [ACCOUNT_NUMBER].",
    ],
    ("neutral", "agent", "polite_agent"): [
        "Can I take your account number please?",
        "Could you confirm the first line of your address for me?",
        "Let me just pull up your account, bear with me a moment.",
        "I'm going to put you on a short hold while I check that.",
        "For security, can you confirm your date of birth?",
        "I can see the {bill} here, it was issued on [DATE].",
        "The {product} is due for renewal on [DATE].",
        "I'll transfer you to the team that handles that.",
        "Is there anything else I can help you with today?",
        "Can I get a good contact number in case we get cut off?",
        "I'm just reading through the notes on your account.",
        "I'll need to raise a ticket for our technical team.",
        "The charge of {amount} relates to the {product}.",
        "You should receive an email at [EMAIL] within the hour.",
        "I've updated the address to [ADDRESS].",
        "Just to confirm, you're [PERSON], the account holder?",
        "Thank you for holding, I'm back with you now.",
        "Could you spell your surname for me please?",
        "I understand, let me see what I can do.",
        "I'm sorry to hear that, let me look into it.",
        "Bear with me while the system loads.",
        "Thanks for calling, my name is [PERSON], how can I help?",
    ],
    ("neutral", "bot", "plain"): [
        "Please say or enter your account number.",
        "I can help with billing, payments, or technical support. What would you like to do?",
        "To continue, please confirm your date of birth.",
        "Please hold while I connect you to an agent.",
        "Your current balance is {amount}.",
        "I didn't catch that, could you repeat it?",
        "Your call may be recorded for training purposes.",
        "Press one for billing or two for technical support.",
        "Your next payment of {amount} is due on [DATE].",
        "I'm transferring you to the next available advisor.",
    ],
    ("positive", "customer", "thanks"): [
        "Thank you so much, that's really helpful.",
        "Thanks {name}, you've been brilliant.",
        "That's great, I really appreciate your help.",
        "Perfect, thank you, that's sorted it.",
        "Oh that's a relief, thanks a lot.",
        "You've been so patient with me, thank you.",
        "Thank you, that's exactly what I needed.",
        "Cheers, have a lovely day.",
        "Thanks for sorting that out so quickly.",
        "Great, the {product} is working again, thank you.",
        "I really appreciate you staying on the line with me.",
        "Lovely, thanks for explaining it so clearly.",
    ],
    ("positive", "customer", "plain"): [
        "The {product} has been working perfectly since the engineer came.",
        "I'm really happy with the new {product}.",
        "Wow that was fast, the {product} arrived {day}.",
        "That's brilliant news, I'm so pleased.",
        "Your colleague [PERSON] was fantastic last time.",
        "The refund came through really quickly, I'm impressed.",
        "Honestly you've been the most helpful person I've spoken to.",
        "Awesome, that's much cheaper than I expected.",
        "I love the new app, it's so easy to use.",
        "Excellent, that's a great deal.",
        "I've been with you for years and I've always been happy.",
        "Oh nice, so I get {amount} back, that's great.",
    ],
    ("positive", "agent", "polite_agent"): [
        "Great news, I've refunded the {amount} to your card.",
        "You're very welcome, I'm glad I could help.",
        "I've applied a discount for you, so your {bill} will be lower.",
        "Good news, the {product} issue has been fixed.",
        "It's been a pleasure speaking with you, have a wonderful day.",
        "I'm happy to help with that, it's all sorted now.",
        "Brilliant, everything is set up and ready to go.",
        "Thanks so much for your patience, I really appreciate it.",
        "Happy to waive that fee for you this time.",
        "Perfect, you're all set, enjoy the new {product}.",
        "Good news, the refund of {amount} has gone through to your card.",
        "Lovely, I've credited {amount} back to your account for the trouble.",
        "I'm really pleased to tell you the claim has been approved.",
        "Great, I've cancelled that extra charge so you won't pay it.",
        "Wonderful, the engineer has fixed the fault on the line.",
    ],
    ("positive", "bot", "plain"): [
        "Great, your payment was successful. Thank you!",
        "All done! Your {product} has been updated.",
        "Thanks for your feedback, we're glad we could help.",
    ],
}

PER_TEMPLATE = 7


def generate(seed: int = 20261127) -> list[dict]:
    rng = random.Random(seed)
    records: list[dict] = []
    for (label, role, tag), templates in TEMPLATES.items():
        for i, template in enumerate(templates):
            group = f"sentiment/{label}/{role}/{tag}/{i:02d}"
            for text, style, industry in distinct_renderings(template, rng, PER_TEMPLATE, role=role):
                records.append({"text": text, "label": label, "group": group, "role": role, "tag": tag,
                                "style": style, "industry": industry})
    assign_splits(records, strata=("label", "tag"))
    return records


def main() -> None:
    write_dataset(__file__, "sentiment", generate())


if __name__ == "__main__":
    main()
