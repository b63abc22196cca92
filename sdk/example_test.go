package sdk_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"chsgate/api"
	"chsgate/protocol"
	"chsgate/sdk"
)

// Example checks whether a person is insured, as the sandbox's demo channel,
// and decrypts the user_id of the response.
func Example() {
	// A fake platform replaces the gateway here. In production the base
	// URL is the platform's https address.
	platform := startFakePlatform()
	defer platform.Close()

	client, err := sdk.New(platform.URL, "ldxt",
		sdk.WithCredentials("67b082f9d58045619a4ef05147b87659", "testkey", "f2313d85601342b8b15c872286c6aaff"),
		sdk.WithSignType(protocol.SignMD5),
		sdk.WithSM2PrivateKey("8eb480ce1185b47c6271a4e065694c07387e456834d4929fdb532fdf0cbf5311"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	response, err := client.Insured(context.Background(), &api.InsuredRequest{
		UserList: []api.InsuredPerson{{Name: "王二", IDCard: "650101198001010032", CertType: "01"}},
	})
	switch {
	case sdk.OutcomeUnknown(err):
		fmt.Println("no verified response, query before retrying:", err)
		return
	case err != nil:
		fmt.Println("rejected with code", sdk.Code(err), err)
		return
	}

	for _, result := range response.List {
		person, err := client.DecryptUserID(result.UserID)
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(result.Region, result.IsInsu, result.InsuTypeName, person.Name, person.IDCard)
	}
	// Output: 350102 1 职工基本医疗保险 王二 650101198001010032
}

// ExampleNewNotifyHandler receives the platform's payment callbacks at
// /chs/notify, the path given as notify_url in CI00.02.00.01.
func ExampleNewNotifyHandler() {
	client, err := sdk.New("https://gateway.example.com", "ldxt",
		sdk.WithCredentials("67b082f9d58045619a4ef05147b87659", "testkey", "f2313d85601342b8b15c872286c6aaff"),
	)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The platform may send a notice more than once, so recording it must
	// be idempotent by hi_pay_no.
	record := func(ctx context.Context, n *api.PaymentNotice) error {
		fmt.Println("order", n.HiPayNo, "pay_result", n.PayResult)
		return nil
	}
	mux := http.NewServeMux()
	mux.Handle("POST /chs/notify", sdk.NewNotifyHandler(client, record))
	log.Fatal(http.ListenAndServeTLS(":8443", "cert.pem", "key.pem", mux))
}
