"""Generate infra/models/data/toxicity/toxicity.jsonl (synthetic, written by the Sluice team).

Run: .venv/bin/python -m infra.models.data.toxicity.generate
toxic = abuse, insults, threats or harassment aimed at a person (the agent, "you people", staff), with or
without swear words. non_toxic includes the hard cases a swear-word filter gets wrong: angry but clean
complaints (tag angry_clean) and profanity aimed at no one (tag undirected_profanity). Profanity is written
out because the classifier must see it; it is mild and limited to what customers actually say on calls.
"""
from __future__ import annotations

import random

from infra.models.data.textstyle import assign_splits, distinct_renderings, write_dataset

TEMPLATES: dict[tuple[str, str], list[str]] = {
    ("toxic", "abuse_clean"): [
        "You people are useless parasites.",
        "You're an absolute idiot, put someone competent on.",
        "Are you stupid or just pretending?",
        "You are the most incompetent person I have ever spoken to.",
        "Listen you pathetic little clown, just do your job.",
        "You're a worthless waste of space.",
        "Your whole team is a bunch of brainless morons.",
        "I bet you're too thick to even understand what I'm saying.",
        "You're a liar and a thief, all of you.",
        "Shut up and let me speak to someone with a brain.",
        "What a moron, you can't even read my account number back.",
        "You lot are scum, preying on old people.",
        "Are you even capable of thinking, you dimwit?",
        "You sound like a robot with no brain.",
        "Honestly you're the dumbest person I've dealt with.",
        "You're a disgrace, people like you shouldn't have jobs.",
        "Get off the phone you useless lump.",
        "You're a parasite living off honest people's money.",
        "Nobody with half a brain would hire someone like you.",
        "You're nothing but a pathetic little nobody reading a script.",
        "Your mother must be so ashamed of you.",
        "You're vermin, the lot of you.",
        "I hope you get fired, you miserable creature.",
        "Do you have any idea how stupid you sound?",
    ],
    ("toxic", "insult_profane"): [
        "You're a fucking idiot.",
        "Listen you stupid bitch, give me my money back.",
        "Fuck you and your {product}.",
        "You useless piece of shit, fix my {product}.",
        "Go to hell, you bastard.",
        "Shut the fuck up and put your manager on.",
        "You're all a bunch of crooks and assholes.",
        "What kind of dumbass answers the phone like that?",
        "Screw you, you lazy prick.",
        "You're a lying bastard and you know it.",
    ],
    ("toxic", "threat"): [
        "I know where your office is.",
        "I know where you work, {name}, I'll be waiting outside.",
        "If this isn't fixed {day} I'm coming down there and you'll regret it.",
        "You'd better watch your back.",
        "Keep talking and see what happens to you.",
        "I'll find out where you live.",
        "People like you deserve to get hurt.",
        "I'm going to make your life hell, {name}.",
        "Wait till I get my hands on you.",
        "Someone should teach you a lesson you won't forget.",
        "I'll make sure you lose your job and everything else.",
        "You won't be laughing when I turn up at [ADDRESS].",
        "If this isn't sorted {day} you'll regret it.",
        "You'll be sorry you ever picked up this call.",
        "I'm going to come down there and sort you out myself.",
        "Watch yourself, I've got your name and I know what you look like.",
        "One more excuse and I swear I'll make you pay for it.",
        "I've got friends who'd love to meet you after your shift.",
        "Do that again and you'll find out what happens to people like you.",
        "I'll be outside your building {day}, see how brave you are then.",
        "You're going to get what's coming to you.",
        "I hope something bad happens to you and your family.",
        "I'll wait for you in the car park, {name}.",
        "Next time I see you in the branch you won't walk out.",
        "Fix it or you'll pay for this personally.",
        "Sort it out now or things are going to get ugly for you.",
        "Keep me waiting again and you'll regret the day you met me.",
        "You have until tonight or I'll come and find you.",
        "Refund me or I'll make sure you suffer for it.",
        "Don't make me come down there, you won't like what happens.",
        "I'm warning you, cross me again and you'll be sorry.",
        "Hang up on me again and I'll hunt you down.",
    ],
    ("toxic", "harassment"): [
        "What's your home address, sweetheart?",
        "You sound pretty, what are you wearing?",
        "Go back to your own country, I want a real person.",
        "I don't want to talk to a woman, put a man on.",
        "I'm going to call back every hour until you cry.",
        "Are you too old to use a computer, grandma?",
        "Let me guess, you got this job because nobody else would hire you.",
        "I'm posting your name everywhere so everyone knows how useless you are, {name}.",
    ],
    ("non_toxic", "angry_clean"): [
        "I've been waiting {duration}, this is ridiculous.",
        "This is absolutely unacceptable, I want it fixed {day}.",
        "I'm furious, you charged me {amount} for nothing.",
        "Your service is terrible and I'm cancelling.",
        "This company is a joke, nothing ever works.",
        "I'm sick and tired of calling about the same {product} problem.",
        "I want to speak to a manager right now.",
        "This is the worst experience I've ever had.",
        "I'm so angry, nobody has done anything for {duration}.",
        "You've made a complete mess of my {bill}.",
        "Stop telling me to restart it, I've done that {count}.",
        "I'm going to report this to the ombudsman.",
        "I'll be taking my business elsewhere.",
        "This is outrageous, I never ordered that.",
        "I'm really upset, you keep getting it wrong.",
        "I'm going to leave a terrible review.",
        "Your policy is ridiculous and unfair.",
        "You charged me for nothing and I want my money back.",
        "You people keep getting my {bill} wrong every single month.",
        "You promised me a callback and you never called, that's appalling.",
        "You've wasted my whole afternoon with this, I'm livid.",
        "I'm coming down to the branch {day} to sort this out in person.",
        "If this isn't fixed {day} I'm cancelling and going to a competitor.",
        "You'll be hearing from my solicitor about this charge.",
        "You lot have ruined my week with this mistake.",
        "I know where the problem is, it's your system, not my {product}.",
        "I'm absolutely livid, nobody warned me about the {amount} fee.",
        "You told me it would be fixed {day} and it still isn't.",
        "You cut me off last time and I had to wait {duration} again.",
        "You never listen, I've said it's not my {product}.",
        "You've charged me {count} for the same thing, that's shocking.",
        "You said the engineer would come and nobody came, I'm fuming.",
        "You keep transferring me and nobody takes responsibility.",
        "You sent me the wrong {product} and now you want me to pay postage?",
        "You really need to sort your systems out, this is a disgrace.",
        "Don't put me on hold again, I've been waiting {duration}.",
        "Honestly the whole system is broken.",
        "I'm not paying {amount} for a service that doesn't work.",
    ],
    ("non_toxic", "undirected_profanity"): [
        "This damn router keeps dropping.",
        "Holy shit that was fast.",
        "The fucking {product} died again.",
        "Oh crap, I've forgotten my password.",
        "Shit, I think I sent the money to the wrong account.",
        "Damn it, the {product} still isn't here.",
        "This bloody app crashes every time I open it.",
        "Hell yeah, that worked, thank you.",
        "What the hell, the {bill} doubled.",
        "Sorry for swearing, it's just been a shit week.",
        "The damn meter is flashing again.",
        "Oh my god, finally, you're a lifesaver.",
        "That's fucking brilliant, thanks so much.",
        "Ugh, the stupid website logged me out again.",
        "Crap, my card must have expired.",
        "This shitty weather knocked the power out.",
        "Bloody hell, is it really that expensive?",
        "I'm so pissed off with this {product}, it's broken again.",
        "Jesus Christ, the queue was forty minutes.",
        "Oh fuck, sorry, I dropped the phone.",
        "Shit, sorry, the dog's barking, give me a sec.",
        "Fuck me, that's a big bill.",
        "Goddamn it, I typed the wrong pin again.",
        "Holy crap, it actually worked.",
        "Sorry, my kids are screaming, bloody chaos here.",
    ],
    # Redacted turns are full of placeholders; threats that name a person or an address must not teach the
    # head that a placeholder means abuse (seen in the demo before these were added: "call me back on [PHONE]").
    ("non_toxic", "contact_details"): [
        "Call me back on [PHONE] please.",
        "My number is [PHONE].",
        "You can reach me at [EMAIL] if the line drops.",
        "My name is [PERSON].",
        "Hi, this is [PERSON] calling about my {bill}.",
        "It's [PERSON], I spoke to [PERSON] yesterday about the {product}.",
        "The card is [CARD], expiry [DATE].",
        "My date of birth is [DATE].",
        "I live at [ADDRESS].",
        "Can you text me at [PHONE] when the engineer is on the way?",
        "Send the receipt to [EMAIL] please.",
        "The account is under [PERSON], my husband.",
        "My social is [SSN].",
        "The IBAN is [IBAN] for the refund.",
        "Okay, I have [PHONE] and [EMAIL] on file, is that right?",
        "Thanks [PERSON], I've updated the address to [ADDRESS].",
    ],
    # Agents apologise and empathise all day; "sorry" and "frustrating" must not read as hostility.
    ("non_toxic", "agent_service"): [
        "I'm sorry about that, let me look into your account.",
        "I'm so sorry you've had to deal with this, {name}.",
        "I understand how frustrating that must be.",
        "I apologise for the wait, thanks for holding.",
        "I hear you, that shouldn't have happened.",
        "Let me see what I can do about the {bill}.",
        "I'm really sorry, I'll escalate this for you right now.",
        "You have every right to be upset, let me fix it.",
        "Sorry for the trouble, I've credited your account.",
        "I know this has been a long call, thank you for your patience.",
        "I'll make sure this doesn't happen again.",
        "Bear with me while I pull up your details.",
    ],
    ("non_toxic", "plain"): [
        "Can you check my {bill} please?",
        "My {product} isn't working, can you help?",
        "I'd like to cancel my {product}.",
        "Thanks, that's really helpful.",
        "My account number is [ACCOUNT_NUMBER].",
        "Could you send the details to [EMAIL]?",
        "I'm calling about a charge of {amount}.",
        "When will the engineer arrive?",
        "I moved to [ADDRESS] last week.",
        "Yes that's correct.",
        "You've been very helpful, {name}.",
        "Can I pay the rest {day}?",
        "I think someone used my card ending [CARD].",
        "How do I reset my password?",
        "Please hold while I check that for you.",
        "I'm sorry about that, let me fix it.",
        "That's fine, no problem.",
        "I'd like to speak to someone about my {product}.",
        "I'm a bit confused by the letter you sent.",
        "Kill the old plan and move me to the new one please.",
        "The {product} is killing me with these fees, can we lower them?",
        "Is there anyone else who can help with this?",
    ],
}

PER_TEMPLATE = 8


def generate(seed: int = 20261128) -> list[dict]:
    rng = random.Random(seed)
    records: list[dict] = []
    for (label, tag), templates in TEMPLATES.items():
        for i, template in enumerate(templates):
            group = f"toxicity/{label}/{tag}/{i:02d}"
            for text, style, industry in distinct_renderings(template, rng, PER_TEMPLATE):
                records.append({"text": text, "label": label, "group": group, "role": "customer", "tag": tag,
                                "style": style, "industry": industry})
    assign_splits(records, strata=("label", "tag"))
    return records


def main() -> None:
    write_dataset(__file__, "toxicity", generate())


if __name__ == "__main__":
    main()
