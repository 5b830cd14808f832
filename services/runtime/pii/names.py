"""Name gazetteers and the word lists that keep ordinary words from being taken for names.

Source of the name lists: common given names of the US Social Security Administration's national baby-name
data (https://www.ssa.gov/oact/babynames/) and common surnames of the US Census Bureau's 2010 surname table
(https://www.census.gov/topics/population/genealogy/data/2010_surnames.html). Both are works of the US
federal government and in the public domain. The lists below were written by hand from those sources (a
selection of frequent names, plus frequent South Asian, Hispanic and East Asian names that call-centre
traffic carries), not copied in full; all entries are lowercase because ASR output is lowercase.
"""
from __future__ import annotations

FIRST_NAMES = frozenset("""
aaron abigail adam adrian aisha alan albert alex alexa alexander alexandra alexis alice alicia alison allison
amanda amelia amir amit amy ana andre andrea andrew angela angelica anil anita ann anna anne annie anthony
antonio anjali arjun arthur ashley ava barbara benjamin beth betty beverly bianca bobby bonnie brandon
brenda brian brittany bruce bryan caleb cameron carla carlos carmen carol caroline carolyn catherine charles
charlie charlotte chen cheryl chloe christina christine christopher cindy claire claudia cody colin
connor courtney craig cynthia daniel danielle david deborah debra deepak denise dennis derek destiny diana diane
diego dmitri dolores donald donna doris dorothy douglas dylan edward elaine elena elijah elizabeth ella ellen
emily emma eric erica erin esther ethan eugene evan evelyn fatima felicia fernando fiona francisco gabriel
gabriela gary george gerald gina gloria gregory gustavo hannah harold harry heather helen henry hiroshi
hector howard ian isaac isabella ivan jacob jacqueline james jamal jane janet janice jared jasmine jason javier
jeffrey jennifer jeremy jerry jesse jessica jillian joan joanne joel john johnny jonathan jorge
jose joseph joshua joyce juan judith judy julia julie justin karen karthik katherine kathleen kathryn kavya
keith kelly kenneth kevin kimberly kyle larry laura lauren lawrence leah leonard linda lindsey lisa logan
lorenzo lori louis lucas lucy luis luke lydia manuel margaret maria marie marilyn mario marisol martha
martin mary mason matthew megan meera melissa michael michelle miguel mohammed muhammad monica nancy natalie
nathan neha nicholas nicole noah nora olivia omar oscar pamela patricia patrick paul paula peter philip
pooja priya rachel rahul rajesh ramon randy raquel rebecca richard ricardo rita robert roberto rohan ronald
rosa ruth ryan samantha samuel sandra sanjay sara sarah scott sean sergio shannon sharon shirley sophia sophie
stephanie stephen steven susan suresh sylvia tamara tanya teresa theresa thomas timothy tina todd tracy
tyler valerie vanessa vicente victor victoria vincent vivek walter wanda wayne wei william xavier
yolanda yusuf zachary zoe kwame ngozi olga svetlana yuki mei ling hui jun minh thanh nguyen ahmed ali hassan
ibrahim khalid layla leila mariam nadia rania samir tariq yasmin lakshmi ravi sunita venkat aditya ananya
jennie kate katie kristen kristin lena liam lily maya mia molly nina owen paige penelope quinn riley ruby
sadie sasha seth shane simon stella tessa trevor troy vera wendy zara
""".split())

# Given names that are also ordinary English words. They count as names only with a cue ("my name is bill",
# "this is rose speaking", "speaking with mark"), a title, or a following surname - never on their own, so
# "i want to pay my bill" stays visible.
AMBIGUOUS_FIRST_NAMES = frozenset("""
bill rose mark will grace hope joy faith may june april summer dawn frank ray jack bob pat sue art rich sandy
penny amber crystal iris lily daisy violet jean gene chase hunter carter page wade drew guy miles lane grant
dean chance cash brook heather holly ivy olive autumn skye sky august rocky rusty buck dusty king prince
angel star misty virginia austin madison jordan christian jesus sunny hazel jade pearl ginger candy chip chuck
don ed al sam max rob jay kim lee kay
""".split())

SURNAMES = frozenset("""
smith johnson williams brown jones garcia miller davis rodriguez martinez hernandez lopez gonzalez wilson
anderson thomas taylor moore jackson martin lee perez thompson white harris sanchez clark ramirez lewis
robinson walker young allen king wright scott torres nguyen hill flores green adams nelson baker hall rivera
campbell mitchell carter roberts gomez phillips evans turner diaz parker cruz edwards collins reyes stewart
morris morales murphy cook rogers gutierrez ortiz morgan cooper peterson bailey reed kelly howard ramos kim
cox ward richardson watson brooks chavez wood james bennett gray mendoza ruiz hughes price alvarez castillo
sanders patel myers long ross foster jimenez powell jenkins perry russell sullivan bell coleman butler
henderson barnes gonzales fisher vasquez simmons romero jordan patterson alexander hamilton graham reynolds
griffin wallace moreno west cole hayes bryant herrera gibson ellis tran medina aguilar stevens murray ford
castro marshall owens harrison fernandez mcdonald woods washington kennedy wells vargas henry chen freeman
webb tucker guzman burns crawford olson simpson porter hunter gordon mendez silva shaw snyder mason dixon
munoz hunt hicks holmes palmer wagner black robertson boyd rose stone salazar fox warren mills meyer rice
schmidt garza daniels ferguson nichols stephens soto weaver ryan gardner payne grant dunn kelley spencer
hawkins arnold pierce vazquez hansen peters santos hart bradley knight elliott cunningham duncan armstrong
hudson carroll lane riley andrews alvarado ray delgado berry perkins hoffman johnston matthews pena richards
contreras willis carpenter lawrence sandoval guerrero george chapman rios estrada ortega watkins greene
nunez wheeler valdez harper burke larson santiago maldonado morrison franklin carlson austin dominguez
carr lawson jacobs obrien lynch singh vega bishop montgomery oliver jensen harvey williamson gilbert dean
sims espinoza howell li wong reid hanson le mccoy garrett burton fuller wang weber welch rojas lucas marquez
fields park yang little banks padilla day walsh bowman schultz luna fowler mejia davidson acosta brewer may
holland juarez newman pearson curtis cortez douglas schneider joseph barrett navarro figueroa keller avila
wade molina stanley hopkins campos barnett bates chambers caldwell beck lambert miranda byrd craig ayala
lowe frazier powers neal leonard gregory carrillo sutton fleming rhodes shelton schwartz norris jennings
watts duran walters cohen mcdaniel moran parks steele vaughn becker holt deleon barker terry hale leon hail
benson haynes horton miles lyons pham graves bush thornton wolfe warner cabrera mckinney mann zimmerman
dawson lara fletcher page mccarthy love robles cervantes solis erickson reeves chang klein salinas fuentes
baldwin daniel simon velasquez hardy higgins aguirre lin cummings chandler sharp barber bowen ochoa dennis
robbins liu ramsey francis griffith paul blair oconnor cardenas pacheco cross calderon quinn moss swanson
chan rivas khan rodgers serrano fitzgerald rosales stevenson christensen manning gill curry mclaughlin
harmon mcgee gross doyle garner newton burgess reese walton blake trujillo adkins brady goodman roman webster
goodwin fischer huang potter delacruz montoya todd wu hines mullins castaneda malone cannon tate mack sherman
hubbard hodges zhang guerra wolf valencia saunders franco rowe gallagher farmer hammond hampton townsend
ingram wise gallegos clarke barton schroeder maxwell waters logan camacho strickland norman person colon
parsons frank harrington glover osborne buchanan casey floyd patton ibarra ball tyler suarez bowers orozco
salas cobb gibbs andrade bauer conner moody escobar mcguire lloyd mueller hartman french kramer mcbride pope
lindsey velazquez norton mccormick sparks flynn yates hogan marsh macias villanueva zamora pratt stokes
owen ballard lang brock villarreal charles drake barrera cain patrick pineda burnett mercado santana shepherd
bautista ali shaffer lamb trevino mckenzie hess beil olsen cochran morton nash wilkins petersen briggs shah
roth nicholson holloway lozano flowers rangel hoover short arias mora valenzuela bryan meyers weiss underwood
bass greer summers houston carson morrow clayton whitaker decker yoder collier zuniga carey wilcox melendez
poole roberson larsen conley davenport copeland massey lam huff rocha cameron jefferson hood monroe anthony
pittman huynh randall singleton kirk combs mathis christian skinner bradford richard galvan wall boone
kirby wilkinson bridges bruce atkinson velez meza roy vincent york hodge villa abbott allison tapia gates
chase sosa sweeney farrell wyatt dalton horn barron phelps yu dickerson heath foley atkins mathews bonilla
acevedo benitez zavala hensley glenn cisneros harrell shields rubio choi huffman boyer garrison arroyo bond
kane hancock callahan dillon cline wiggins grimes arellano melton oneill savage ho beltran pitts parrish
ponce rich booth koch golden ware brennan mcdowell marks cantu humphrey baxter sawyer clay tanner hutchinson
kaur berg wiley gilmore russo villegas hobbs keith wilkerson ahmed beard mcclain montes mata rosario vang
walter henson oneal mosley mcclure beasley stephenson snow huerta preston vance barry johns eaton blackwell
dyer prince macdonald solomon guevara stafford english hurst woodard cortes shannon kemp nolan mccullough
merritt murillo moon salgado strong kline cordova barajas roach rosas winters jacobson lester knox bullock
kerr leach meadows orr davila whitehead pruitt kent conway mckee barr david dejesus marin berger mcintyre
blankenship gaines palacios cuevas bartlett durham dorsey mccall odonnell stein browning stout lowery sloan
mclean hendricks calhoun sexton chung gentry hull duarte ellison nielsen gillespie buck middleton sellers
leblanc esparza hardin bradshaw mcintosh howe livingston frost glass morse knapp herman stark bravo noble
spears weeks corona frederick buckley mcfarland hebert enriquez hickman quintero randolph schaefer walls
trejo house reilly pennington michael conrad giles benjamin crosby fitzpatrick donovan mays mahoney valentine
raymond medrano hahn mcmillan small bentley felix peck lucero boyle hanna pace rush hurley harding mcconnell
bernal nava ayers everett ventura avery pugh mayer bender shepard mcmahon landry case sampson moses magana
blackburn dunlap gould duffy vaughan herring mckay espinosa rivers farley bernard ashley friedman potts
truong costa correa blevins nixon clements fry delarosa best benton lugo portillo dougherty crane haley
phan villalobos blanchard horne finley quintana lynn esquivel bean dodson mullen xiong hayden cano levy
huber richmond moyer lim frye sheppard mccarty avalos booker waller parra woodward jaramillo krueger rasmussen
brandt peralta donaldson stuart faulkner maynard galindo coffey estes sanford burch maddox vo oconnell vu
andersen spence mcpherson church schmitt stanton leal cherry compton dudley sierra pollard alfaro hester
proctor lu hinton novak good madden mccann terrell jarvis dickson reyna cantrell mayo branch hendrix rollins
rowland whitney duke odom daugherty travis tang reddy iyer sharma gupta kumar das rao nair mehta joshi
chowdhury mukherjee banerjee chatterjee desai kapoor malhotra agarwal bose tanaka suzuki watanabe sato
yamamoto nakamura kobayashi ito kowalski nowak ivanov petrov smirnov okafor okonkwo adeyemi mensah
""".split())

# Surnames that are ordinary words: accepted only after a first name, a title or a cue.
AMBIGUOUS_SURNAMES = frozenset("""
brown young king green hill baker cook long price bell wood black rose stone rice hunt fox white gray grant
lane ray may west cole ford mills hart banks little day love page miles hardy sharp cross moss rich golden
wall strong snow best church good house small case bean branch good frank chase glass english summers winters
walls short power powers person sparks flowers law hood cash
""".split())

TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "doctor", "mister", "missus", "sir", "madam", "mx"})

# Words that cannot be a name right after a cue ("this is about", "i'm calling", "my name is not") and that end
# a name. Function words, call-centre vocabulary and frequent verbs/adjectives of the traffic.
STOPWORDS = frozenset("""
a about above after again against all am an and any are aren as at be because been before being below between
both but by can cannot could did do does doing don down during each few for from further had has have having he
her here hers herself him himself his how i if in into is it its itself just let me more most my myself no nor
not now of off on once only or other our ours out over own same she should so some such than that the their
theirs them then there these they this those through to too under until up very was we were what when where
which while who whom why with would you your yours yourself yes yeah yep nope okay ok oh um uh hmm hello hi hey
thanks thank please sorry well so like just also still really actually sure right alright fine good great
calling call called speaking speak spoke talking talk here there going gonna want wanted need needed trying try
looking look having getting get got phoning ringing reaching contacting writing wondering hoping checking
happy glad sad upset frustrated angry confused tired new old back again ready done sure calling regarding
from with the customer agent support service services team department billing account accounts card cards
payment payments bill bills billing refund refunds charge charges plan plans order orders internet phone
number email address name last first full middle spelled spell spelling that's it's i'm im its thats
one two three four five six seven eight nine ten zero oh double triple hundred thousand
monday tuesday wednesday thursday friday saturday sunday today tomorrow yesterday morning afternoon evening
january february march april june july august september october november december
someone somebody anyone anybody everyone everybody nobody noone whoever person people someone's
your our their his her its mine
going able supposed still unable unhappy pleased will would shall might must can't won't
""".split())

ALL_FIRST_NAMES = FIRST_NAMES | AMBIGUOUS_FIRST_NAMES
ALL_SURNAMES = SURNAMES | AMBIGUOUS_SURNAMES
