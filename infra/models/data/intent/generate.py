"""Generate infra/models/data/intent/intent.jsonl (synthetic call-centre conversations, written by the Sluice team).

Run: .venv/bin/python -m infra.models.data.intent.generate
Each record is one customer turn with `context` = the previous turns of the conversation (up to 3, oldest
first, {role, text}), exactly what the features stage turns into context_text. Two kinds (tag):
  direct           the turn states its intent; the context is an opening or an unrelated earlier topic
  context_decided  the turn alone is ambiguous ("the second option please", "can you do that today") and the
                   context (an agent/bot offer about one intent) decides the label
Group = the turn template (direct) or the context setup (context_decided), so held-out groups are phrasings
and conversation set-ups the heads never trained on.
"""
from __future__ import annotations

import random

from infra.models.data.textstyle import assign_splits, chat, fill, voice, write_dataset

LABELS = ["billing_dispute", "cancel_service", "technical_issue", "account_access", "payment_arrangement",
          "complaint_escalation", "shipping_delivery", "fraud_report", "plan_change", "general_inquiry",
          "greeting", "closing"]

DIRECT: dict[str, list[str]] = {
    "billing_dispute": [
        "I was charged twice for my {bill} this month.",
        "There's a charge of {amount} on my {bill} that I don't recognise from you.",
        "My {bill} is way higher than it should be.",
        "Why am I being charged {amount} for the {product}?",
        "I think I've been overcharged on the last {bill}.",
        "I want to dispute a charge on my account.",
        "You billed me again after I already cancelled.",
        "The late fee is wrong, I paid on time on [DATE].",
        "I was promised a discount but it's not on my {bill}.",
        "The {bill} says {amount} but my contract says less.",
        "I'm still paying for the {product} I returned.",
        "Can you explain this extra fee on my statement, it shouldn't be there.",
        "I need a refund for the double charge.",
        "You took the payment twice from my card ending [CARD].",
    ],
    "cancel_service": [
        "I want to cancel my {product}.",
        "Please close my account, I'm leaving.",
        "I'd like to end my contract.",
        "How do I cancel the {product}?",
        "I don't want you to renew my {product} this year.",
        "I'm switching to another provider so I need to cancel.",
        "Can you stop the {product} from the end of the month?",
        "I want to terminate my subscription.",
        "I'm moving abroad so please shut down my account.",
        "What's the cancellation fee if I leave now?",
        "Just cancel everything, I don't need it anymore.",
        "I'd like to give notice on my {product}.",
    ],
    "technical_issue": [
        "My {product} keeps dropping out.",
        "{thing} isn't working at all.",
        "The app crashes every time I open it.",
        "I have no signal at home since yesterday.",
        "The internet is really slow in the evenings.",
        "The smart meter display has gone blank.",
        "I keep getting an error when I try to make a transfer.",
        "The router lights are flashing red.",
        "My phone won't connect to the network.",
        "The website freezes at the checkout page.",
        "The boiler shows a fault code and won't heat.",
        "The tv box keeps restarting by itself.",
        "Calls keep cutting off after a minute.",
        "The claim form won't upload my photos.",
    ],
    "account_access": [
        "I can't log in to my account.",
        "I forgot my password.",
        "I'm locked out of online banking.",
        "I didn't get the verification code by text.",
        "I need to reset my pin.",
        "It says my username isn't recognised.",
        "My account got locked after too many attempts.",
        "The two factor code goes to my old number [PHONE].",
        "How do I get back into my online account?",
        "The password reset email never arrives at [EMAIL].",
        "I can't sign in to the app since the update.",
        "It keeps saying my login details are wrong.",
        "The security code is going to a phone I don't have anymore.",
        "I changed my number and now I can't verify my login.",
    ],
    "payment_arrangement": [
        "Can I pay my {bill} in instalments?",
        "I can't afford the full {bill} this month.",
        "Can I set up a payment plan?",
        "Could I pay {amount} now and the rest {day}?",
        "I'd like to change my direct debit date.",
        "Is it possible to extend the due date?",
        "I've lost my job and I'm struggling to pay.",
        "Can I spread the cost over a few months?",
        "I'll be paid on the fifteenth, can I pay then?",
        "I want to make a payment towards my balance.",
        "Can I pause my payments for a couple of months?",
        "I missed a payment, can we sort out a plan?",
    ],
    "complaint_escalation": [
        "I want to speak to your manager.",
        "I want to make a formal complaint.",
        "Please escalate this, I've had enough.",
        "I'm going to take this to the ombudsman.",
        "This is the {count} I've called, I want it escalated.",
        "Put me through to a supervisor please.",
        "I want this complaint on record.",
        "Who is your boss, I want to talk to them?",
        "I want to complain about the agent I spoke to last time.",
        "Give me the complaints department.",
        "I need someone senior to deal with this.",
        "I want a written response to my complaint.",
    ],
    "shipping_delivery": [
        "My order hasn't arrived yet.",
        "The tracking says delivered but nothing is here.",
        "Can you change the delivery address to [ADDRESS]?",
        "My new card still hasn't come in the post.",
        "When will the replacement router be delivered?",
        "The courier left my parcel at the wrong house.",
        "The package arrived damaged.",
        "Where is my {product}, it was due {day}?",
        "Can I pick up the parcel from the depot instead?",
        "The delivery driver never turned up.",
        "I'm missing an item from my order.",
        "Has my sim card been posted yet?",
        "The replacement card you sent never arrived.",
        "I'm still waiting for the welcome pack in the post.",
        "Can I rearrange the delivery for next week?",
    ],
    "fraud_report": [
        "There's a transaction on my card I didn't make.",
        "Someone has used my card ending [CARD].",
        "I think my account has been hacked.",
        "I got a scam call from someone pretending to be you.",
        "Someone opened an account in my name.",
        "My card was stolen last night.",
        "There are payments to a website I've never used.",
        "I clicked a link in a text and now money is missing.",
        "Someone changed my email to [EMAIL] without me knowing.",
        "I think someone is using my identity.",
        "There's a withdrawal from a cash machine abroad that wasn't me.",
        "I've been scammed, I sent money to a fake account [IBAN].",
    ],
    "plan_change": [
        "I want to upgrade my plan.",
        "Can I switch to a cheaper {product}?",
        "I'd like to add another line to my account.",
        "Can I downgrade my package?",
        "I want to change my tariff.",
        "Can I add my wife to the policy?",
        "I need more data on my mobile plan.",
        "Can I move to the fixed rate energy plan?",
        "I'd like to remove the sports channels.",
        "Can I increase the cover on my home insurance?",
        "I want to switch to paperless billing and the premium plan.",
        "Is there a better deal I can move onto?",
    ],
    "general_inquiry": [
        "What are your opening hours?",
        "Do you cover the area around [ADDRESS]?",
        "How much is the {product}?",
        "What's the difference between your plans?",
        "Do you offer student discounts?",
        "Where's your nearest branch?",
        "How long does a transfer usually take?",
        "Do you have an email address I can write to?",
        "What documents do I need to open an account?",
        "Is there a charge for paper statements?",
        "Can you tell me what my policy covers?",
        "Are your prices going up next year?",
    ],
    "greeting": [
        "Hi.",
        "Hello, good morning.",
        "Hi there, my name's [PERSON].",
        "Hey, how are you?",
        "Yes hello, can you hear me?",
        "Good afternoon.",
        "Hiya, is that customer services?",
        "Oh hi, sorry, I was on hold for a while.",
        "Hello, it's [PERSON] speaking.",
        "Morning, how's it going?",
    ],
    "closing": [
        "Thanks, that's all, bye.",
        "No, that's everything, thank you.",
        "Great, have a good day.",
        "Cheers, bye now.",
        "That's all I needed, thanks.",
        "Okay, thank you for your help, goodbye.",
        "Nope, all good, thanks again.",
        "Right, I'll let you go then, bye.",
        "Perfect, that's sorted, thanks, bye.",
        "Thank you, take care.",
    ],
}

# Openings placed before direct turns: they carry no intent, so the turn must decide.
OPENINGS: list[list[tuple[str, str]]] = [
    [],
    [],
    [("bot", "Welcome. How can I help you today?")],
    [("agent", "Thanks for calling, my name is [PERSON], how can I help?")],
    [("bot", "Please say your account number."), ("customer", "[ACCOUNT_NUMBER]"),
     ("bot", "Thanks. What are you calling about today?")],
    [("agent", "Hello, you're through to customer services."), ("customer", "Hi."),
     ("agent", "How can I help?")],
    [("agent", "Can I take your name please?"), ("customer", "It's [PERSON]."),
     ("agent", "Thanks [PERSON], what can I do for you?")],
    [("bot", "Hi, I'm the virtual assistant. What do you need help with?")],
    [("agent", "Thanks for holding, sorry about the wait."), ("customer", "That's okay.")],
    # A finished topic before the turn: the customer switches subject, so the context must not override.
    [("agent", "Is there anything else I can help you with today?")],
    [("agent", "That's all updated for you."), ("customer", "Great, thanks."),
     ("agent", "Anything else while I have you?")],
]

# Replies that say nothing about the intent on their own.
AMBIGUOUS = [
    "Yes that one.", "The second option please.", "The first one.", "Can you do that today?",
    "Yes please go ahead.", "Okay do it.", "Yeah that's right.", "Sure, let's do that.",
    "Can you do that now?", "That one please.", "Yes.", "The other one.", "Okay, whichever is quicker.",
    "Yeah the first option.", "Go on then.", "How long will that take?", "Yes that's the one.",
]
CLOSING_AMBIGUOUS = ["No.", "Nope.", "No I'm good.", "No, that's it.", "Not today.", "I think so, yeah."]

# label -> context set-ups (oldest first) after which an AMBIGUOUS reply belongs to that label.
SETUPS: dict[str, list[list[tuple[str, str]]]] = {
    "billing_dispute": [
        [("customer", "There's something on my {bill} I don't understand."),
         ("agent", "I can see two charges of {amount}, one on the first and one on the fifteenth, which one are you asking about?")],
        [("agent", "I can see the duplicate payment. I can refund it to your card or credit it to your next bill, which would you prefer?")],
        [("customer", "I was charged for the {product} after I returned it."),
         ("agent", "I can raise a billing dispute for that charge, would you like me to?")],
        [("bot", "I found three recent charges on your account. Which charge do you want to dispute?")],
        [("agent", "The overcharge was {amount}. I can reverse the fee or send it to the billing team to review.")],
        [("customer", "The late fee shouldn't be there."),
         ("agent", "I can remove the late fee from this bill, shall I do that?")],
        [("customer", "My bill is wrong."), ("agent", "I can see an extra {amount}, is that the charge you mean?")],
        [("bot", "Is the problem with a charge you don't recognise, a double charge, or a fee?")],
        [("agent", "I'll put a hold on the disputed amount while we investigate, is that okay?")],
        [("customer", "You charged me after I cancelled."), ("agent", "I can refund the last two months or just last month, which ones were after you cancelled?")],
    ],
    "cancel_service": [
        [("customer", "I'm thinking about leaving."),
         ("agent", "I can cancel the {product} from the end of this month or right away, which would you prefer?")],
        [("bot", "Do you want to cancel your whole account or only the {product}?")],
        [("agent", "If you cancel now there's a fee of {amount}, or you can cancel at the end of the contract without a fee.")],
        [("customer", "I don't want it to renew."),
         ("agent", "I can switch off auto renewal or close the policy completely, which one?")],
        [("agent", "So you'd like me to close the account and stop all services?")],
        [("agent", "I can process the cancellation now and send a confirmation letter.")],
        [("bot", "I understand you want to leave. Should I start the cancellation?")],
        [("customer", "I'm moving house and won't need it."), ("agent", "I can close the account on your moving date or straight away.")],
        [("agent", "Before I cancel, I could offer you a discount to stay, or shall I go ahead with the cancellation?")],
        [("agent", "Do you want to cancel just the {product} or end the whole contract?")],
    ],
    "technical_issue": [
        [("customer", "The connection keeps dropping."),
         ("agent", "I can book an engineer visit or send you a replacement router, which works better?")],
        [("bot", "Let's troubleshoot. Is the problem with the connection, the device, or the app?")],
        [("agent", "I can run a line test now or reset the connection from our side.")],
        [("customer", "The meter screen is blank."),
         ("agent", "We can send an engineer to fix the meter, we have tomorrow morning or friday afternoon.")],
        [("agent", "It looks like a fault on the line. Shall I book a repair?")],
        [("customer", "The app keeps crashing."),
         ("agent", "I can reset the app settings on your account or log a bug with our tech team.")],
        [("bot", "Have you tried restarting the device? I can also run a remote diagnostic.")],
        [("customer", "It keeps showing an error."), ("agent", "I can push a software update to the device or reset it to factory settings.")],
        [("agent", "The fault is on our side, I can send a technician out, would you like that?")],
        [("customer", "There's no signal at home."), ("agent", "I can reset the network settings on your sim or raise a coverage fault.")],
    ],
    "account_access": [
        [("bot", "I can reset your password by text or by email. Which would you like?")],
        [("customer", "I can't get into my account."),
         ("agent", "I can unlock the account or send you a new login link, which do you want?")],
        [("agent", "Your online account is locked. Shall I send a reset code to [PHONE]?")],
        [("bot", "Do you need help with your username, your password, or your PIN?")],
        [("customer", "It won't let me sign in."),
         ("agent", "I can resend the verification code or update the number it goes to.")],
        [("agent", "I can send a new PIN by post or set up app login instead.")],
        [("customer", "I'm locked out."), ("agent", "I can verify you by text code or by security questions, which one?")],
        [("bot", "I can send a password reset link to your email. Shall I send it?")],
        [("agent", "Your username is your email address. Do you want me to reset the password as well?")],
        [("customer", "The code never arrives."), ("agent", "I can switch your verification to an authenticator app or send the code by voice call.")],
    ],
    "payment_arrangement": [
        [("agent", "We can split the balance into three or six monthly payments. Which suits you?")],
        [("customer", "I can't pay it all right now."),
         ("agent", "I can set up a payment plan or move your due date to later in the month.")],
        [("bot", "Would you like to pay the full balance, a partial amount, or set up an arrangement?")],
        [("agent", "I can move your direct debit to the first or the fifteenth of the month.")],
        [("customer", "Money is tight this month."),
         ("agent", "We could pause payments for a month and add it to the following bills. Would that help?")],
        [("agent", "I can take {amount} today and the rest on your payday.")],
        [("bot", "I can set up a payment arrangement. Would you like weekly or monthly payments?")],
        [("customer", "I get paid next week."), ("agent", "I can hold off the collection until then, shall I do that?")],
        [("agent", "We can take a smaller amount now and review your plan in three months.")],
        [("agent", "Would you like to pay by card now or set up a direct debit for the instalments?")],
    ],
    "complaint_escalation": [
        [("customer", "This isn't good enough."),
         ("agent", "I can log a formal complaint or transfer you to my supervisor.")],
        [("agent", "Would you like me to escalate this to our complaints team?")],
        [("customer", "I've called about this {count}."),
         ("agent", "I understand, I can raise it with a team leader who'll call you back within 24 hours.")],
        [("agent", "I can put this in writing as a formal complaint or get a manager on the line now.")],
        [("bot", "I'm sorry you're unhappy. Do you want to make a complaint or speak to a manager?")],
        [("agent", "If you're still not satisfied I can refer it to the ombudsman process.")],
        [("customer", "I want someone senior."), ("agent", "My team leader is free now, or I can have the complaints manager call you.")],
        [("agent", "I can log this as a formal complaint and you'll get a reference within five days.")],
        [("bot", "I can connect you to a supervisor. Would you like that?")],
        [("agent", "Shall I send your complaint to the customer relations team in writing?")],
    ],
    "shipping_delivery": [
        [("customer", "My parcel didn't turn up."),
         ("agent", "We can redeliver tomorrow or you can collect it from the depot.")],
        [("bot", "Your order is with the courier. Do you want to track it or change the delivery date?")],
        [("agent", "I can send the replacement card by post or express courier, which would you like?")],
        [("customer", "It says delivered but it's not here."),
         ("agent", "I can open a missing parcel claim or send a replacement.")],
        [("agent", "There are delivery slots on tuesday morning or thursday afternoon.")],
        [("agent", "Would you like the router delivered to your home or to your work address?")],
        [("bot", "Your parcel is at the depot. Do you want it redelivered or held for collection?")],
        [("customer", "The courier keeps missing me."), ("agent", "I can leave it with a neighbour or a safe place, which do you prefer?")],
        [("agent", "The replacement can ship today by standard or next day delivery.")],
        [("agent", "Shall I change the delivery address on the order to your work?")],
    ],
    "fraud_report": [
        [("customer", "There are payments I don't recognise."),
         ("agent", "I can freeze the card now and send you a new one, should I go ahead?")],
        [("agent", "I can see two payments to an online store abroad. Did you make either of them?")],
        [("bot", "If you think your card has been used without your permission, I can block it. Shall I block it now?")],
        [("customer", "I think someone got into my account."),
         ("agent", "I'll lock the account and open a fraud case, okay?")],
        [("agent", "I can report the scam transfer to the receiving bank or cancel the card, or both.")],
        [("agent", "Do you want me to add a fraud warning to your file?")],
        [("customer", "I didn't make that payment."), ("agent", "I'll cancel the card and refund the unauthorised payment, okay?")],
        [("bot", "It sounds like fraud. Shall I block your card and connect you to the fraud team?")],
        [("agent", "Was it the payment on the tenth or the twelfth that wasn't you?")],
        [("customer", "I got a text asking for my pin."), ("agent", "That's a scam. I can freeze your online banking and report it, shall I?")],
    ],
    "plan_change": [
        [("agent", "We have the unlimited plan at {amount} or the basic plan at twenty, which would you like?")],
        [("customer", "My plan is too expensive."),
         ("agent", "I can move you to a smaller data bundle or the sim only plan.")],
        [("bot", "Would you like to upgrade, downgrade, or add a line?")],
        [("agent", "There's a fixed tariff for two years or a variable one that's cheaper now.")],
        [("customer", "I want more cover."),
         ("agent", "I can add accidental damage or increase the contents limit on your policy.")],
        [("agent", "I can switch your package to the premium bundle from next month.")],
        [("bot", "There are three bundles available: basic, plus, and max. Which one do you want?")],
        [("customer", "I need more data."), ("agent", "I can add a data booster or move you to a bigger plan.")],
        [("agent", "The new tariff would start on your next billing date, shall I switch you over?")],
        [("agent", "I can add a second driver to the policy or upgrade to fully comprehensive.")],
    ],
    "general_inquiry": [
        [("customer", "What plans do you have?"),
         ("agent", "There's a basic and a premium plan, would you like details on one of them?")],
        [("bot", "I can tell you our opening hours, branch locations, or prices. What would you like to know?")],
        [("agent", "We have branches in the city centre and at the retail park, which one do you want the hours for?")],
        [("customer", "I have a question about your products."),
         ("agent", "I can email you the brochure or read you the main points.")],
        [("agent", "Would you like to know what documents are needed or how long it takes?")],
        [("bot", "Do you want information about home, car, or travel insurance?")],
        [("customer", "I'm just asking about prices."), ("agent", "The standard price is {amount}, or there's a student rate, shall I tell you about that one?")],
        [("bot", "Would you like to hear our opening hours or our address?")],
        [("agent", "I can text you the link to the information page, would that help?")],
        [("customer", "Do you cover my area?"), ("agent", "We cover most areas, I can check the postcode or tell you about nearby branches.")],
    ],
    "closing": [
        [("agent", "Is there anything else I can help you with today?")],
        [("agent", "That's all done for you. Anything else?")],
        [("bot", "Your request is complete. Is there anything else I can do?")],
        [("agent", "Your refund is on its way. Can I help with anything else?")],
        [("customer", "Okay great."), ("agent", "Is there anything else at all?")],
        [("agent", "Before you go, is there anything else?")],
        [("agent", "I've noted everything on your account. Is there anything more today?")],
        [("bot", "Is there something else I can help you with?")],
        [("agent", "You should get the email in a few minutes. Anything else I can do?")],
        [("customer", "Okay thanks."), ("agent", "No problem, anything else on your mind?")],
    ],
}

DIRECT_PER_TEMPLATE = 6
CONTEXT_PER_SETUP = 9


def _style(text: str, rng: random.Random, industry: str, is_voice: bool, role: str) -> str:
    text = fill(text, rng, industry)
    return voice(text, rng, noise=0.8) if is_voice else chat(text, rng, role)


def _record(rng, label, group, tag, turn, context, industry) -> dict:
    is_voice = rng.random() < 0.6
    ctx = [{"role": role, "text": _style(t, rng, industry, is_voice, role)} for role, t in context][-3:]
    return {"text": _style(turn, rng, industry, is_voice, "customer"), "label": label, "group": group, "tag": tag,
            "context": ctx, "role": "customer", "style": "voice" if is_voice else "chat", "industry": industry}


def generate(seed: int = 20261129) -> list[dict]:
    rng = random.Random(seed)
    industries = ["telecom", "banking", "retail", "utilities", "insurance"]
    records: list[dict] = []
    seen: set[tuple] = set()

    def add(r: dict) -> bool:
        key = (r["text"], tuple(c["text"] for c in r["context"]))
        if key in seen:
            return False
        seen.add(key)
        records.append(r)
        return True

    for label, templates in DIRECT.items():
        for i, template in enumerate(templates):
            group = f"intent/{label}/direct/{i:02d}"
            for _ in range(DIRECT_PER_TEMPLATE):
                opening = rng.choice(OPENINGS)
                if label == "greeting":
                    opening = rng.choice(OPENINGS[:4])  # a greeting comes first or right after the bot's hello
                add(_record(rng, label, group, "direct", template, opening, rng.choice(industries)))
    for label, setups in SETUPS.items():
        replies = CLOSING_AMBIGUOUS if label == "closing" else AMBIGUOUS
        for i, setup in enumerate(setups):
            group = f"intent/{label}/context_decided/{i:02d}"
            for reply in rng.sample(replies, min(CONTEXT_PER_SETUP, len(replies))):
                prefix = rng.choice([[], [], [("agent", "Thanks for calling, how can I help?")]])
                add(_record(rng, label, group, "context_decided", reply, prefix + setup, rng.choice(industries)))
    assign_splits(records, strata=("label", "tag"))
    return records


def main() -> None:
    write_dataset(__file__, "intent", generate())


if __name__ == "__main__":
    main()
