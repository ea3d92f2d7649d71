package i18n

// entries is the catalog: every key in English and Italian. Arguments are
// fmt verbs, in the same order in both languages. Italian follows the
// reference documents' terms: allineamento (alignment), dominio di base
// (organizational domain), mittente (sender), record (DNS record).
var entries = map[string]entry{
	// Summary headlines.
	"head.tester-failure": {
		"testerd could not reach its DNS resolver, so this result says nothing about your domain.",
		"testerd non è riuscito a interrogare il proprio resolver DNS: questo risultato non dice nulla del tuo dominio."},
	"note.tester-failure": {
		"The fault is the tester's, not yours: it judged the message again while its DNS did not answer, and gave up. Send the probe again later; nothing needs changing in your records.",
		"Il problema è del tester, non tuo: ha riprovato a valutare il messaggio finché il suo DNS non rispondeva, poi ha rinunciato. Rimanda la prova più tardi; nei tuoi record non c'è nulla da cambiare."},
	"note.authors": {
		"Several authors: %s.",
		"Più autori (dettaglio tecnico): %s."},
	"note.rfc7489": {
		"Older receivers: %s",
		"Destinatari con regole precedenti (dettaglio tecnico): %s"},
	"word.no-from": {
		"(no single From domain)",
		"(nessun dominio From unico)"},

	"head.spf.pass": {
		"SPF passes: %s is allowed to send mail for %s, and that domain matches the From address.",
		"SPF superato: %s è autorizzato a inviare posta per %s, e il dominio è allineato con l'indirizzo From."},
	"head.spf.pass-unaligned": {
		"SPF passes for %s, but that is not the organization of the From address (%s), so it does not count for DMARC.",
		"SPF superato per %s, ma il suo dominio di base non è quello dell'indirizzo From (%s): manca l'allineamento, quindi per DMARC non conta."},
	"head.spf.fail": {
		"SPF %s: the server that sent this message (%s) is not listed in the SPF record of %s.",
		"SPF %s: il server che ha inviato il messaggio (%s) non è elencato nel record SPF di %s."},
	"head.spf.neutral": {
		"SPF neutral: the SPF record of %s says nothing either way about %s.",
		"SPF neutral: il record SPF di %s non dice nulla su %s, né sì né no."},
	"head.spf.none": {
		"SPF none: %s publishes no SPF record, so nobody is authorized to send for it.",
		"SPF none: %s non pubblica alcun record SPF, quindi nessun server è autorizzato a inviare per suo conto."},
	"head.spf.permerror": {
		"SPF permerror: the SPF record of %s is broken, and receivers treat it as missing or failing.",
		"SPF permerror: il record SPF di %s è errato, e i destinatari lo trattano come assente o fallito."},
	"head.spf.temperror": {
		"SPF temperror: the DNS of %s did not answer in time.",
		"SPF temperror: il DNS di %s non ha risposto in tempo."},

	"head.dkim.none": {
		"The message is not signed with DKIM.",
		"Il messaggio non ha una firma DKIM."},
	"head.dkim.pass": {
		"DKIM passes: the signature of %s verifies and matches the From address.",
		"DKIM superato: la firma di %s è valida ed è allineata con l'indirizzo From."},
	"head.dkim.pass-unaligned": {
		"DKIM passes for %s, but that is not the organization of the From address (%s), so it does not count for DMARC.",
		"DKIM superato per %s, ma il suo dominio di base non è quello dell'indirizzo From (%s): manca l'allineamento, quindi per DMARC non conta."},
	"head.dkim.body": {
		"The DKIM signature of %s does not verify: the body of the message changed after it was signed.",
		"La firma DKIM di %s non è valida: il corpo del messaggio è cambiato dopo la firma."},
	"head.dkim.header": {
		"The DKIM signature of %s does not verify: a signed header changed after signing, or the key in DNS does not match.",
		"La firma DKIM di %s non è valida: un header firmato è cambiato dopo la firma, oppure la chiave nel DNS non corrisponde."},
	"head.dkim.temperror": {
		"The DKIM key of %s could not be fetched: its DNS did not answer.",
		"Non è stato possibile leggere la chiave DKIM di %s: il suo DNS non ha risposto."},
	"head.dkim.invalid": {
		"The DKIM signature of %s cannot be checked: %s.",
		"La firma DKIM di %s non può essere verificata (dettaglio: %s)."},

	"head.dmarc.no-from": {
		"The message has no single From address, so DMARC cannot apply: %s.",
		"Il messaggio non ha un unico indirizzo From, quindi DMARC non si applica (dettaglio: %s)."},
	"head.dmarc.pass": {
		"DMARC passes: the message is authenticated and aligned for %s, and its DMARC record applies.",
		"DMARC superato: il messaggio è autenticato e allineato per %s, e il suo record DMARC si applica."},
	"head.dmarc.none-aligned": {
		"The message is authenticated and aligned for %s, but no DMARC record applies to it, so DMARC cannot pass: publish one.",
		"Il messaggio è autenticato e allineato per %s, ma nessun record DMARC si applica al dominio, quindi DMARC non può essere superato: pubblicane uno."},
	"head.dmarc.none": {
		"The message is not authenticated and aligned for %s, and no DMARC record applies to it.",
		"Il messaggio non è autenticato e allineato per %s, e nessun record DMARC si applica al dominio."},
	"head.dmarc.fail": {
		"DMARC fails: neither SPF nor DKIM authenticates %s. Receivers that follow its policy %s.",
		"DMARC fallito: né SPF né DKIM autenticano %s. I destinatari che seguono la sua policy %s."},
	"head.dmarc.unusable": {
		"The DMARC record of %s cannot be used, so receivers apply no DMARC to its mail, as if there were no record.",
		"Il record DMARC di %s non è utilizzabile: i server che ricevono la posta non applicano DMARC, come se il record non ci fosse."},
	"head.dmarc.temperror": {
		"The DMARC record of %s could not be fetched: its DNS did not answer.",
		"Non è stato possibile leggere il record DMARC di %s: il suo DNS non ha risposto."},
	"head.dmarc.temperror-check": {
		"DMARC cannot be concluded for %s: %s ended in a temporary error, so receivers defer the message and try again later.",
		"Per %s DMARC non si può concludere: %s si è fermato con un errore temporaneo, quindi i server che ricevono rimandano il messaggio a più tardi."},
	"disp.none": {
		"deliver it as usual and report the failure",
		"lo consegnano comunque e segnalano l'errore"},
	"disp.quarantine": {
		"put it in the spam folder",
		"lo mettono nella cartella spam"},
	"disp.reject": {
		"refuse it",
		"lo rifiutano"},

	// Steps.
	"step.spf.authorize": {
		"Authorize %s in the SPF record of %s: publish this one record in place of the current one.",
		"Autorizza %s nel record SPF di %s: pubblica questo record al posto di quello attuale (uno solo)."},
	"step.spf.publish": {
		"Publish an SPF record that authorizes %s for %s.",
		"Pubblica un record SPF che autorizzi %s per %s."},
	"step.spf.over-limit": {
		"The record then needs %d DNS lookups, over the limit of %d: replace an include by the IP addresses it stands for, or drop a service you no longer use.",
		"Il record richiederebbe %d lookup DNS, oltre il limite di %d: sostituisci un include con gli indirizzi IP che rappresenta, o togli un servizio che non usi più."},
	"step.spf.temperror": {
		"Check the name servers of %s: they must answer for its SPF record. Then send the probe again.",
		"Controlla i name server di %s: devono rispondere per il record SPF. Poi rimanda la prova."},
	"step.spf.multiple": {
		"%s publishes more than one SPF record: keep exactly one, with every service in it.",
		"%s pubblica più di un record SPF: tienine uno solo, con dentro tutti i servizi."},
	"step.spf.merge": {
		"Join the %d SPF records of %s into this single one, and delete the others.",
		"Unisci i %d record SPF di %s in questo record unico, e cancella gli altri."},
	"step.spf.lookups": {
		"The SPF record needs more than %d DNS lookups, so receivers stop reading it. These terms cost most: %s. Replace one by its IP addresses, or drop services you no longer use.",
		"Il record SPF richiede più di %d lookup DNS, quindi i destinatari smettono di leggerlo. I termini che costano di più: %s. Sostituiscine uno con i suoi indirizzi IP, o togli i servizi che non usi più."},
	"step.spf.void": {
		"The SPF record of %s points at names that do not exist: remove the includes or mechanisms whose domains are gone.",
		"Il record SPF di %s punta a nomi che non esistono: togli gli include o i meccanismi i cui domini non ci sono più."},
	"step.spf.fix": {
		"Correct the SPF record at %s: %s.",
		"Correggi il record SPF in %s (dettaglio: %s)."},

	"step.dkim.sign": {
		"Sign outgoing mail with DKIM for %s: your mail server or provider gives you a selector and a public key; publish the key as a TXT record at <selector>._domainkey.<your domain>.",
		"Firma la posta in uscita con DKIM per %s: il tuo server di posta o il provider ti dà un selettore e una chiave pubblica; pubblica la chiave come record TXT in <selettore>._domainkey.<tuo dominio>."},
	"step.dkim.body": {
		"Find what changes the body after signing: a footer or disclaimer added by a later server or an antivirus, a mailing list, lines longer than 990 characters that a server wraps (keep lines short or use quoted-printable), or a converted charset. Sign on the last server before the Internet.",
		"Trova cosa modifica il corpo dopo la firma: un piè di pagina o un disclaimer aggiunto da un server successivo o da un antivirus, una mailing list, righe più lunghe di 990 caratteri che un server spezza (tieni le righe brevi o usa quoted-printable), o una conversione di charset. Firma sull'ultimo server prima di Internet."},
	"step.dkim.header": {
		"Check that no server changes signed headers after signing (a list adding a [tag] to the Subject, a rewritten From), and that the public key at %s belongs to the private key that signs.",
		"Verifica che nessun server modifichi gli header firmati dopo la firma (una lista che aggiunge un [tag] all'oggetto, un From riscritto), e che la chiave pubblica in %s corrisponda alla chiave privata che firma."},
	"step.dkim.temperror": {
		"Check the name servers of %s: they must answer for the DKIM key. Then send the probe again.",
		"Controlla i name server di %s: devono rispondere per la chiave DKIM. Poi rimanda la prova."},
	"step.dkim.publish": {
		"Publish the public key as a TXT record at %s (v=DKIM1; k=rsa; p=…, as your mail server or provider gives it), or sign with the selector whose key is published.",
		"Pubblica la chiave pubblica come record TXT in %s (v=DKIM1; k=rsa; p=…, come te la dà il server di posta o il provider), oppure firma con il selettore la cui chiave è pubblicata."},
	"step.dkim.invalid": {
		"Correct the signature settings: %s.",
		"Correggi le impostazioni della firma (dettaglio: %s)."},

	"step.align.spf": {
		"SPF passes for %s, not for %s: use a bounce (Return-Path) address at your own domain or a subdomain of it, with its SPF record, or rely on DKIM signed as your domain.",
		"SPF è superato per %s, non per %s: usa un indirizzo di ritorno (Return-Path) nel tuo dominio o in un suo sottodominio, con il suo record SPF, oppure affidati a una firma DKIM del tuo dominio."},
	"step.align.dkim": {
		"The signature is by %s, not by %s: have your provider sign with your own domain (often called custom DKIM or domain authentication).",
		"La firma è di %s, non di %s: fai firmare il provider con il tuo dominio (spesso si chiama DKIM personalizzato o autenticazione del dominio)."},

	"step.from": {
		"Send with exactly one From header holding one address (%s).",
		"Invia con un solo header From contenente un solo indirizzo (dettaglio: %s)."},
	"step.dmarc.publish": {
		"Publish a DMARC record. With this one, receivers deliver as usual and send their reports to this tester (%s), where you can read them.",
		"Pubblica un record DMARC. Con questo, i destinatari consegnano come sempre e mandano i loro report a questo tester (%s), dove puoi leggerli."},
	"step.dmarc.later": {
		"When the reports show all your mail passing for a few weeks, move to p=quarantine, then to p=reject.",
		"Quando i report mostrano per qualche settimana che tutta la tua posta supera DMARC, passa a p=quarantine, poi a p=reject."},
	"step.dmarc.fix": {
		"Correct the DMARC record (%s). This one is valid, delivers as usual and sends the reports to this tester (%s).",
		"Correggi il record DMARC (%s). Questo è valido, lascia consegnare la posta come sempre e manda i report a questo tester (%s)."},
	"step.dmarc.temperror": {
		"Check the name servers of %s: they must answer for _dmarc names. Then send the probe again.",
		"Controlla i name server di %s: devono rispondere per i nomi _dmarc. Poi rimanda la prova."},
	"step.dmarc.external": {
		"Reports to %s go to another organization: %s must authorize them with this record, or receivers send none.",
		"I report verso %s vanno a un'altra organizzazione: %s deve autorizzarli con questo record, altrimenti i destinatari non ne mandano."},

	// Warnings.
	"warn.spf-anyone": {
		"SPF passes only because %s (in the record of %s) lets nearly anyone on the Internet send as %s. Anyone can forge your mail: list your own servers instead.",
		"SPF è superato solo perché %s (nel record di %s) permette a quasi chiunque su Internet di inviare come %s. Chiunque può falsificare la tua posta: elenca invece i tuoi server."},
	"warn.dkim-weak": {
		"The DKIM key %s has %s bits: Gmail and Yahoo expect at least 2048. Generate a 2048-bit key and publish it.",
		"La chiave DKIM %s ha %s bit: Gmail e Yahoo se ne aspettano almeno 2048. Genera una chiave da 2048 bit e pubblicala."},
	"warn.dmarc-testing": {
		"The DMARC record has t=y (testing): receivers do not apply its policy yet.",
		"Il record DMARC ha t=y (test): i destinatari non ne applicano ancora la policy."},

	// Providers.
	"prov.accepted": {
		"accepted",
		"accettato"},
	"prov.rejected": {
		"refused",
		"rifiutato"},
	"prov.spam": {
		"delivered to the spam folder",
		"consegnato nella cartella spam"},
	"prov.junk": {
		"delivered to the Junk folder",
		"consegnato nella Posta indesiderata"},
	"prov.gmail.bulk-dmarc": {
		"accepted from a small sender; bulk mail (5,000+ a day) is refused until DMARC passes (550-5.7.26)",
		"accettato da un piccolo mittente; la posta massiva (oltre 5.000 al giorno) è rifiutata finché DMARC non è superato (550-5.7.26)"},
	"prov.gmail.bulk-both": {
		"accepted; bulk senders need both SPF and DKIM to pass (4.7.27, 4.7.30)",
		"accettato; i mittenti massivi devono superare sia SPF sia DKIM (4.7.27, 4.7.30)"},
	"prov.yahoo.bulk": {
		"accepted from a small sender; bulk senders need DMARC to pass",
		"accettato da un piccolo mittente; i mittenti massivi devono superare DMARC"},
	"prov.outlook.bulk": {
		"accepted from a small sender; senders of over 5,000 a day need SPF, DKIM and DMARC to pass",
		"accettato da un piccolo mittente; chi invia oltre 5.000 messaggi al giorno deve superare SPF, DKIM e DMARC"},

	// Labels of the text summary.
	"label.warning": {
		"Warning:",
		"Attenzione:"},
	"label.providers": {
		"What the big mailbox providers would do with this message:",
		"Cosa farebbero di questo messaggio i principali provider di posta:"},
	"label.steps": {
		"What to change:",
		"Cosa cambiare:"},
	// Pages: frame and home.
	"nav.check":  {"Full check", "Verifica completa"},
	"nav.domain": {"Domain check", "Verifica dominio"},
	"home.title": {"Mail authentication tester", "Tester di autenticazione della posta"},
	"home.h1":    {"Mail authentication tester", "Tester di autenticazione della posta"},
	"home.intro": {
		"Send one message from the system you want to test to one of these addresses. Within seconds the verdict shows here, with what to change, and comes back to you by mail.",
		"Invia un messaggio dal sistema che vuoi provare a uno di questi indirizzi. In pochi secondi il risultato compare qui, con cosa cambiare, e ti torna per email."},
	"home.spf": {
		"SPF for your sending IP and MAIL FROM, and its alignment with From.",
		"SPF per l'IP di invio e il MAIL FROM, e il suo allineamento con il From."},
	"home.dkim": {
		"every DKIM signature, and its alignment with From.",
		"ogni firma DKIM, e il suo allineamento con il From."},
	"home.check": {
		"SPF, DKIM and DMARC together, with the mailbox providers' sender requirements.",
		"SPF, DKIM e DMARC insieme, con i requisiti dei provider per i mittenti."},
	"home.results": {"Results", "Risultati"},
	"home.tag": {
		"To find your own probe, add a tag: check+yourname@%s, then filter the list by it.",
		"Per ritrovare la tua prova aggiungi un'etichetta: check+tuonome@%s, poi filtra l'elenco con quella."},
	"home.lang": {
		"For a reply in Italian, write to check+it@%s (also spf+it@ and dkim+it@).",
		"Per una risposta in italiano scrivi a check+it@%s (anche spf+it@ e dkim+it@)."},
	"home.domain.h": {"Check a domain's records", "Verifica i record di un dominio"},
	"home.domain.p": {
		"SPF (with the whole include tree and its lookup counts), DMARC, DKIM keys and MX, with a fix for each problem.",
		"SPF (con tutto l'albero degli include e il conteggio dei lookup), DMARC, chiavi DKIM e MX, con la correzione di ogni problema."},

	// Lists.
	"list.title":           {"%s@%s: latest results", "%s@%s: ultimi risultati"},
	"list.h1":              {"%s@%s: latest results", "%s@%s: ultimi risultati"},
	"list.note":            {"Newest first; this page reloads every %d seconds.", "I più recenti in alto; la pagina si aggiorna ogni %d secondi."},
	"list.tag":             {"Your tag", "La tua etichetta"},
	"list.tag.placeholder": {"yourname", "tuonome"},
	"list.tag.button":      {"Show", "Mostra"},
	"list.filtered":        {"Only probes sent to %s+%s@%s.", "Solo le prove inviate a %s+%s@%s."},
	"list.all":             {"Show all", "Mostra tutte"},
	"list.verifying":       {"verifying…", "verifica in corso…"},
	"list.empty":           {"No results yet: send a message to %s@%s.", "Ancora nessun risultato: invia un messaggio a %s@%s."},

	// Field labels.
	"f.received":    {"Received", "Ricevuto"},
	"f.verdict":     {"Verdict", "Esito"},
	"f.subject":     {"Subject", "Oggetto"},
	"f.client":      {"Client IP", "IP del client"},
	"f.sender":      {"Sender", "Mittente"},
	"f.from-domain": {"From domain", "Dominio From"},
	"f.recipient":   {"Recipient", "Destinatario"},
	"f.size":        {"Size", "Dimensione"},
	"f.bytes":       {"%d bytes", "%d byte"},
	"f.null":        {"null", "vuoto"},
	"f.no-tls":      {"not used (no STARTTLS)", "non usato (niente STARTTLS)"},
	"f.provider":    {"Provider", "Provider"},
	"f.outcome":     {"What happens", "Cosa succede"},
	"f.bounce":      {"Bounce it would send", "Errore che restituirebbe"},
	"f.name":        {"Name", "Nome"},
	"f.type":        {"Type", "Tipo"},
	"f.value":       {"Value", "Valore"},

	// Result page.
	"result.title":        {"%s@ result", "Risultato %s@"},
	"result.h1":           {"%s@ result", "Risultato %s@"},
	"result.verifying":    {"Verifying… this page reloads until the verdict is ready.", "Verifica in corso… la pagina si aggiorna finché il risultato è pronto."},
	"result.summary":      {"In short", "In breve"},
	"result.check-domain": {"Check all the records of %s", "Verifica tutti i record di %s"},
	"result.details":      {"Technical details", "Dettagli tecnici"},
	"result.details-note": {
		"The technical details below are in English, the language of the standards they quote.",
		"I dettagli tecnici qui sotto sono in inglese, la lingua degli standard che citano."},
	"result.dns-cache": {
		"%d DNS answers came from testerd's cache, the oldest %.1f s old (answers are reused at most %.0f s, within their TTL).",
		"%d risposte DNS venivano dalla cache di testerd, la più vecchia di %.1f s (una risposta si riusa al massimo per %.0f s, entro il suo TTL)."},
	"result.full":           {"Full explanation", "Spiegazione completa"},
	"result.headers":        {"Headers as received", "Header come ricevuti"},
	"req.title":             {"Sender requirements (Gmail/Yahoo)", "Requisiti per i mittenti (Gmail/Yahoo)"},
	"req.first":             {"Gmail would most likely answer first:", "Gmail risponderebbe probabilmente per primo:"},
	"req.requirement":       {"Requirement", "Requisito"},
	"req.status":            {"Status", "Stato"},
	"req.evidence":          {"Evidence", "Evidenze"},
	"req.fix":               {"Fix", "Correzione"},
	"req.blocking":          {"blocking", "bloccante"},
	"reports.tls":           {"SMTP TLS reports (RFC 8460)", "Report SMTP TLS (RFC 8460)"},
	"reports.sessions":      {"Sessions", "Sessioni"},
	"reports.failed":        {"Failed", "Fallite"},
	"tlsreport.title":       {"TLS reports for %s", "Report TLS per %s"},
	"tlsreport.reports":     {"SMTP TLS reports (RFC 8460) since", "report SMTP TLS (RFC 8460) dal"},
	"tlsreport.failures":    {"Failures, and what to fix", "Errori, e cosa correggere"},
	"tlsreport.none":        {"No reporter saw a TLS failure.", "Nessun mittente ha visto errori TLS."},
	"req.providers":         {"Would each provider take it in bulk?", "Ogni provider lo accetterebbe in invio massivo?"},
	"req.provider":          {"Provider", "Provider"},
	"req.verdict":           {"In bulk", "In invio massivo"},
	"req.accepted":          {"accepted", "accettato"},
	"req.refused":           {"refused", "rifiutato"},
	"req.failing":           {"Requirements it refuses for", "Requisiti per cui rifiuta"},
	"req.bounce":            {"Likely bounce", "Rifiuto probabile"},
	"req.source":            {"Rules from", "Regole da"},
	"dkim.title":            {"DKIM signatures", "Firme DKIM"},
	"dkim.none":             {"No DKIM-Signature header.", "Nessun header DKIM-Signature."},
	"dkim.algorithm":        {"Algorithm", "Algoritmo"},
	"dkim.signed":           {"Signed headers", "Header firmati"},
	"dkim.bodyhash":         {"Body hash", "Hash del corpo"},
	"dkim.computed":         {"computed", "calcolato"},
	"dkim.key":              {"Key", "Chiave"},
	"dkim.note":             {"Note", "Nota"},
	"reply.title":           {"Reply", "Risposta"},
	"reply.state":           {"State", "Stato"},
	"reply.to":              {"To", "A"},
	"reply.attempts":        {"Attempts", "Tentativi"},
	"reply.tries":           {"Delivery attempts", "Tentativi di consegna"},
	"reply.try-at":          {"When", "Quando"},
	"reply.try-result":      {"Host that took it, or the error", "Server che l'ha accettato, o l'errore"},
	"reply.last-error":      {"Last error", "Ultimo errore"},
	"reply.next":            {"Next attempt", "Prossimo tentativo"},
	"reply.sent":            {"Sent", "Inviata"},
	"reply.none-postmaster": {"No reply: mail to postmaster@ is not answered.", "Nessuna risposta: alla posta per postmaster@ non si risponde."},
	"reply.later":           {"The reply is planned once the verdict is ready.", "La risposta viene preparata quando il risultato è pronto."},

	// Domain checker.
	"domain.title":    {"Domain record checker", "Verifica dei record di un dominio"},
	"domain.h1":       {"Domain record checker", "Verifica dei record di un dominio"},
	"domain.counts":   {"%d errors, %d warnings", "%d errori, %d avvisi"},
	"domain.checked":  {"checked %s with %d DNS lookups", "verificato %s con %d lookup DNS"},
	"domain.severity": {"Severity", "Gravità"},
	"domain.area":     {"Area", "Ambito"},
	"domain.finding":  {"Finding", "Problema"},
	"domain.worst": {
		"Worst case over the whole tree: %d of 10 DNS-querying terms, %d of 2 void lookups; %d IPv4 addresses and %d IPv6 networks authorized.",
		"Caso peggiore su tutto l'albero: %d su 10 termini che interrogano il DNS, %d su 2 lookup a vuoto; %d indirizzi IPv4 e %d reti IPv6 autorizzati."},
	"domain.evaluation":  {"Evaluation", "Valutazione"},
	"domain.selector":    {"Selector", "Selettore"},
	"domain.source":      {"Source", "Origine"},
	"domain.pref":        {"Pref", "Priorità"},
	"domain.addresses":   {"Addresses", "Indirizzi"},
	"domain.confirmed":   {"confirmed", "confermato"},
	"domain.unconfirmed": {"not confirmed", "non confermato"},
	"form.domain":        {"Domain", "Dominio"},
	"form.selectors":     {"DKIM selectors", "Selettori DKIM"},
	"form.ip":            {"Test IP", "IP da provare"},
	"form.optional":      {"optional", "facoltativo"},
	"form.check":         {"Check", "Verifica"},

	// DMARC report pages.
	"login.title": {"DMARC reports: sign in", "Report DMARC: accesso"},
	"login.h1":    {"DMARC reports: sign in", "Report DMARC: accesso"},
	"login.p": {
		"These pages show where mail for your domains comes from, so they need the admin token (--admin-token).",
		"Queste pagine mostrano da dove arriva la posta dei tuoi domini, quindi serve il token di amministrazione (--admin-token)."},
	"login.token":         {"Admin token", "Token di amministrazione"},
	"login.button":        {"Sign in", "Accedi"},
	"login.wrong":         {"wrong token", "token errato"},
	"result.again":        {"Judged again on %s (after an upgrade of testerd); the verdict of %s was:", "Valutato di nuovo il %s (dopo un aggiornamento di testerd); l'esito del %s era:"},
	"private.title":       {"Your private test", "Il tuo test privato"},
	"private.h1":          {"Your private test", "Il tuo test privato"},
	"private.intro":       {"Send your message to one of these addresses. Its result appears below, and nowhere else: it is never on the public lists.", "Invia il tuo messaggio a uno di questi indirizzi. Il risultato compare qui sotto e da nessun'altra parte: non è mai negli elenchi pubblici."},
	"private.keep":        {"Keep this page's address: it is the only way back to these results.", "Conserva l'indirizzo di questa pagina: è l'unico modo per ritrovare questi risultati."},
	"private.waiting":     {"Waiting for your message… this page reloads every %d seconds.", "In attesa del tuo messaggio… la pagina si aggiorna ogni %d secondi."},
	"private.lists":       {"The lists of results are private on this tester: start a private test instead.", "Gli elenchi dei risultati sono privati su questo tester: avvia invece un test privato."},
	"home.private":        {"Start a private test", "Avvia un test privato"},
	"mail.title":          {"Mail to postmaster@ and abuse@", "Posta a postmaster@ e abuse@"},
	"mail.h1":             {"Mail to postmaster@%[1]s and abuse@%[1]s", "Posta a postmaster@%[1]s e abuse@%[1]s"},
	"mail.note":           {"Your own mail: what people send to postmaster@%[1]s and abuse@%[1]s (RFC 5321, RFC 2142). It is judged like check@ but never answered, and never shown on the public lists.", "La tua posta: quello che la gente invia a postmaster@%[1]s e abuse@%[1]s (RFC 5321, RFC 2142). È valutata come check@, ma senza risposta e mai mostrata negli elenchi pubblici."},
	"mail.empty":          {"No mail to postmaster@%[1]s or abuse@%[1]s yet.", "Ancora nessun messaggio a postmaster@%[1]s o abuse@%[1]s."},
	"reports.title":       {"DMARC aggregate reports", "Report aggregati DMARC"},
	"reports.h1":          {"DMARC aggregate reports", "Report aggregati DMARC"},
	"reports.days":        {"Last %d days.", "Ultimi %d giorni."},
	"reports.logout":      {"Sign out", "Esci"},
	"reports.domains":     {"Domains", "Domini"},
	"reports.reports":     {"Reports", "Report"},
	"reports.messages":    {"Messages", "Messaggi"},
	"reports.none":        {"No report yet.", "Ancora nessun report."},
	"reports.latest":      {"Latest reports", "Ultimi report"},
	"reports.reporter":    {"Reporter", "Mittente del report"},
	"reports.range":       {"Range", "Periodo"},
	"reports.by-reporter": {"By reporter", "Per mittente del report"},
	"reports.by-source":   {"By source IP", "Per IP di origine"},
	"reports.fix":         {"What to fix", "Cosa correggere"},
	"reports.daily":       {"Daily", "Per giorno"},
	"reportdomain.title":  {"DMARC reports for %s", "Report DMARC per %s"},

	// Replies.
	"reply.received": {
		"testerd at %s received your message to %s.",
		"testerd su %s ha ricevuto il tuo messaggio per %s."},
	"reply.verdict": {"Verdict:", "Esito:"},
	"reply.report":  {"Full report:", "Rapporto completo:"},
	"reply.footer": {
		"This is an automatic reply (RFC 3834) to %s, for the message from MAIL FROM <%s>, client %s, HELO %s.",
		"Questa è una risposta automatica (RFC 3834) a %s, per il messaggio da MAIL FROM <%s>, client %s, HELO %s."},
	"reply.redirect": {
		"To have the reply sent elsewhere, write to %s.",
		"Per ricevere la risposta a un altro indirizzo, scrivi a %s."},
	"reply.ask-it": {
		"For a reply in Italian (per una risposta in italiano), write to %s.",
		"Per una risposta in italiano, scrivi a %s."},
	"reply.bare": {
		"The sender asked for this reply to go to you, and the probe was not authenticated for your domain, so it says no more: the full report is at the link above. If you did not ask for it, ignore it.",
		"Il mittente ha chiesto di inviare a te questa risposta, e la prova non era autenticata per il tuo dominio, quindi non dice altro: il rapporto completo è al link qui sopra. Se non l'hai chiesta tu, ignorala."},
}
